"""A city split among aggregators (``evtp build --aggregators``) and their problems solved on
Dask workers (``evtp tariff --workers``): the same loop, the same answers, as in process."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from cases.builtin import load_case
from coupling.cli import main
from coupling.jobs.tariff import TariffOptions, loop_options, solve_tariff
from coupling.problems.dso import aggregators
from traffic.grid_city import write_grid_city


def _build(folder, *extra: str) -> CliRunner:
    f = write_grid_city(folder / "tntp", n=5, zones=8, trips_total=20_000.0, seed=1)
    args = ["build", "--tntp", f["net"], "--trips", f["trips"], "--nodes", f["nodes"]]
    args += ["--feeder", "ieee33", "--stations", "2", "--ev-share", "0.03", *extra]
    return CliRunner().invoke(main, [str(a) for a in [*args, "--out", folder / "case"]])


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city2")
    r = _build(folder, "--aggregators", "2")
    assert r.exit_code == 0, r.output
    assert "aggregators by origin zone (EVs): eva1" in r.output
    return load_case(folder / "case")


def test_the_build_splits_the_demand_by_origin(city):
    d = city.traffic.demand.table
    assert aggregators(city) == ["eva1", "eva2"]
    assert (d.groupby("origin")["aggregator"].nunique() == 1).all()  # one operator per zone
    per = d.groupby("aggregator")["vehicles"].sum()
    assert per.sum() == pytest.approx(city.build["demand"]["ev_trips"], rel=1e-9)
    # the longest-processing-time rule: within the largest origin's EVs of each other
    largest = d.groupby("origin")["vehicles"].sum().max()
    assert abs(per["eva1"] - per["eva2"]) <= largest + 1e-9
    assert per.to_dict() == pytest.approx(city.build["aggregators"], abs=1e-3)


def test_too_many_aggregators_is_a_clear_error(tmp_path):
    r = _build(tmp_path, "--aggregators", "500")
    assert r.exit_code != 0
    assert "--aggregators 500" in r.output and "use at most" in r.output
    assert not (tmp_path / "case").exists()


def test_aggregators_on_dask_workers_answer_as_in_process():
    # tn20-dn17 (two aggregators) by subgradient from zero prices: four rounds of responses,
    # each a solve or a KKT certificate of the last one
    case = load_case("tn20-dn17")
    opts = TariffOptions(
        samples=0, mechanism="subgradient", loop=loop_options(case, max_iter=4), ac_correction=False
    )
    here = solve_tariff(case, opts)
    there = solve_tariff(case, replace(opts, workers=2))
    assert "(on 2 Dask workers)" in there.solver
    assert len(here.history) == len(there.history) == 4
    # the same solvers on the same data in another process: the same numbers
    np.testing.assert_allclose(there.loads, here.loads, rtol=0, atol=1e-9)
    np.testing.assert_allclose(there.bus_tariff, here.bus_tariff, rtol=0, atol=1e-12)
    assert there.decentral == pytest.approx(here.decentral, rel=1e-12)
    assert there.parts_cached == here.parts_cached


def test_the_fleet_market_refuses_dask_workers():
    r = CliRunner().invoke(main, ["tariff", "hu2014-lv", "--workers", "2", "--out", "unused"])
    assert r.exit_code != 0 and "drop --workers" in r.output


def test_an_unreachable_scheduler_fails_before_the_dso_stage(tmp_path):
    r = CliRunner().invoke(
        main, ["tariff", "tn20-dn17", "--scheduler", "tcp://127.0.0.1:9", "--out", tmp_path / "r"]
    )
    assert r.exit_code != 0
    assert "--scheduler tcp://127.0.0.1:9: cannot connect" in r.output
    assert "DSO problem solved" not in r.output and not (tmp_path / "r").exists()
