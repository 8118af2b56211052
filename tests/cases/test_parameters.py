"""The [parameters] registry: unknown keys, types, ranges and defaults."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cases.builtin import load_case
from cases.case import CaseError
from cases.parameters import PARAMETERS, default
from coupling.problems.case_dta import case_paths, dta_options


@pytest.fixture(scope="module")
def case():
    return load_case("tn20-dn17")


def with_params(case, **kw):
    return replace(case, parameters={**case.parameters, **kw})


def test_unknown_key_is_refused_with_the_closest_known_key(case):
    with pytest.raises(CaseError, match=r"'k_path' is not a parameter; did you mean 'k_paths'"):
        with_params(case, k_path=3)
    with pytest.raises(CaseError, match=r"'zzz' is not a parameter \("):
        with_params(case, zzz=1.0)


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("k_paths", 2.5, "must be a whole number"),
        ("max_delay_steps", 1.5, "must be a whole number"),
        ("battery_kwh", float("inf"), "must be a finite number"),
        ("beta", float("nan"), "must be a finite number"),
        ("battery_kwh", 0.0, "must be > 0"),
        ("soc_min", 1.5, r"must be \[0, 1\]"),
        ("path_stops", "some", "must be all or needed"),
        ("eps", "0.1", "must be a number"),
        ("weight_fo1", -1.0, "must be >= 0"),
    ],
)
def test_bad_values_name_the_key(case, key, value, words):
    with pytest.raises(CaseError, match=f"\\[parameters\\] {key} {words}"):
        with_params(case, **{key: value})


def test_registry_defaults_drive_the_option_builders(case):
    bare = replace(case, parameters={})
    opts = dta_options(bare)
    assert opts.soc_min == default("soc_min") == 0.2
    assert opts.penalty_per_vehicle == default("penalty_per_vehicle")
    assert opts.max_delay_steps is None
    assert bare.parameter("k_paths") == 3.0
    assert bare.parameter("path_stops") == "all"
    assert {p.name for p in PARAMETERS} >= {"beta", "eps", "step_kw", "battery_kwh"}


def test_path_stops_needed_removes_stops_from_trips_that_need_no_charge(case):
    # "needed" keeps the stops of ODs whose trip needs a charge and drops the others: with
    # a full battery an OD needs none.
    from cases.case import TrafficData
    from traffic.network import TravelDemand

    tr = case.traffic
    table = tr.demand.table
    full_ods = sorted(table["od"].unique())[::2]
    full = table["od"].isin(full_ods)
    table = table.assign(soc_total=table["soc_total"].where(~full, table["vehicles"]))
    mixed = replace(case, traffic=TrafficData(tr.network, tr.stations, TravelDemand(table)))
    all_stops = case_paths(mixed).table.set_index("path")
    needed = case_paths(with_params(mixed, path_stops="needed")).table.set_index("path")
    both = all_stops.join(needed, rsuffix="_needed")
    dropped = both["od"].isin(full_ods)
    assert (both.loc[dropped, "stops_needed"] == "").all()
    assert (both.loc[dropped, "stops"] != "").any()
    assert (both.loc[~dropped, "stops_needed"] == both.loc[~dropped, "stops"]).all()
