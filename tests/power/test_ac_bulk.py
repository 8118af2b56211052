"""The AC check network built in bulk equals the element-by-element reference
(``tests/power/reference_pandapower.py``): same element tables and the same AC results to
1e-9 on feeders with lines and transformers in both stored directions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import power.ac_check as ac_module
from cases.builtin import load_case
from power.ac_check import ACCheckError, ac_check
from power.pandapower_io import to_pandapower
from tests.power.reference_pandapower import reference_to_pandapower

TOL = 1e-9


def _loads(f, extra_kw: float) -> tuple[np.ndarray, np.ndarray]:
    """The feeder's net loads plus random extra loads (EV-like, up to ``extra_kw`` per bus)."""
    rng = np.random.default_rng(0)
    p = f.load_p_kw - f.renewable_p_kw() + rng.uniform(0, extra_kw, f.load_p_kw.shape)
    q = f.load_q_kvar + rng.uniform(-extra_kw / 6, extra_kw / 6, f.load_q_kvar.shape)
    return p, q


def _reversed_trafo(f):
    """The feeder with its first transformer row stored lv -> hv."""
    kv = dict(zip(f.buses["bus"], f.buses["base_kv"], strict=True))
    tr = [i for i, (a, b) in enumerate(zip(f.lines.from_bus, f.lines.to_bus)) if kv[a] != kv[b]]
    assert tr, "the feeder has no transformer"
    lines = f.lines.copy()
    i = tr[0]
    lines.loc[i, ["from_bus", "to_bus"]] = lines.loc[i, ["to_bus", "from_bus"]].to_numpy()
    return replace(f, lines=lines)


def _assert_same_net(f) -> None:
    new, nb = to_pandapower(f)
    old, ob = reference_to_pandapower(f)
    assert nb == ob
    for table in ("bus", "line", "trafo", "load", "ext_grid"):
        a, b = new[table], old[table]
        assert len(a) == len(b), table
        pd.testing.assert_frame_equal(a[b.columns], b, check_dtype=False, obj=table)


def _assert_same_ac(f, monkeypatch, extra_kw: float) -> None:
    p, q = _loads(f, extra_kw)
    new = ac_check(f, p, q)
    with monkeypatch.context() as mp:
        mp.setattr(ac_module, "to_pandapower", reference_to_pandapower)
        mp.setattr(ac_module, "_NETS", {})  # not the network the bulk builder made
        old = ac_check(f, p, q)
    for name in ("v_pu", "p_kw", "q_kvar", "loading"):
        np.testing.assert_allclose(getattr(new, name), getattr(old, name), rtol=0, atol=TOL)


def test_cigre_mv_ev_bulk_equals_reference(monkeypatch):
    f = load_case("cigre-mv-ev").feeder
    _assert_same_net(f)
    _assert_same_net(_reversed_trafo(f))
    _assert_same_ac(f, monkeypatch, 60.0)


def test_ieee33_bulk_equals_reference(monkeypatch):
    f = load_case("ieee33").feeder  # lines only, no transformer
    _assert_same_net(f)
    _assert_same_ac(f, monkeypatch, 60.0)


@pytest.mark.slow
def test_feeder1000_ev_bulk_equals_reference(monkeypatch):
    f = load_case("feeder1000-ev").feeder
    _assert_same_net(f)
    _assert_same_ac(f, monkeypatch, 3.0)


@pytest.mark.parametrize("bad_step", [0, 2])
def test_non_convergence_names_the_step(bad_step):
    """A load no feeder can carry fails the AC check at its step, also in the reused
    (time-series) power flows after the first step."""
    f = load_case("ieee33").feeder
    p, q = _loads(f, 10.0)
    p[:, bad_step] *= 200.0
    with pytest.raises(ACCheckError, match=f"at step t={bad_step}$"):
        ac_check(f, p, q)


def test_kept_network_gives_what_a_new_one_gives(monkeypatch):
    """The AC check keeps a feeder's pandapower network between calls: a check after other
    loads equals, to the bit, the check on a new network (run folders and sweep points must
    not depend on what was checked before)."""
    f = load_case("ieee33").feeder
    p, q = _loads(f, 50.0)
    first = ac_check(f, p, q)
    ac_check(f, 1.3 * p, q)  # other loads on the kept network
    again = ac_check(f, p, q)
    monkeypatch.setattr(ac_module, "_NETS", {})
    fresh = ac_check(f, p, q)
    for name in ("v_pu", "p_kw", "q_kvar", "loading"):
        assert np.array_equal(getattr(again, name), getattr(fresh, name)), name
        assert np.array_equal(getattr(first, name), getattr(fresh, name)), name
