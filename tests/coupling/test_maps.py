"""Interactive result maps (coupling/output/maps.py) and case layouts (cases/layout.py).

References are independent of the map code: clock labels and the tree layout by hand, colours
read straight from the run's CSV tables and binned here with the stated thresholds, names from
the case tables. The rendered pages are loaded in headless Chromium offline (tests/render.py).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cases.builtin import load_case
from cases.layout import case_layout, tree_layout
from coupling.cli import main
from coupling.output.maps import LOADING_COLOURS, clock_labels, map_figure, result_map
from coupling.output.runread import read_run
from tests.coupling.tiny import tiny_case
from tests.render import external_urls, render

# the loading bins by hand: < 0.5, < 0.8, < 0.95, <= 1 (+ round-off), above
HAND_EDGES = [(0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 1.000001), (1.000001, np.inf)]


def hand_bin(loading: float) -> int:
    return next(i for i, (lo, hi) in enumerate(HAND_EDGES) if lo <= loading < hi)


def test_clock_labels_by_hand():
    assert clock_labels("16:00", 0.25, [0, 1, 31, 32, 71]) == [
        "16:00",
        "16:15",
        "23:45",
        "00:00 +1d",
        "09:45 +1d",
    ]
    assert clock_labels("00:00", 1.0, [0, 23]) == ["00:00", "23:00"]


def test_tree_layout_by_hand():
    # a -> b -> (d, e), a -> c: leaves d, e, c at x 0, 1, 2; b over d..e, a over b..c
    xy = tree_layout(["a", "b", "c", "d", "e"], ["a", "a", "b", "b"], ["b", "c", "d", "e"], "a")
    got = xy.set_index("bus")
    assert got.x.to_dict() == {"a": 1.25, "b": 0.5, "c": 2.0, "d": 0.0, "e": 1.0}
    assert got.y.to_dict() == {"a": 0.0, "b": -1.0, "c": -1.0, "d": -2.0, "e": -2.0}


@pytest.mark.parametrize("name", ["tn20-dn17", "hu2014-lv"])
def test_builtin_layouts_place_every_bus(name):
    case = load_case(name)
    lay = case_layout(case)
    buses = lay.buses.set_index("bus")
    assert sorted(buses.index) == sorted(case.feeder.bus_ids)
    assert np.isfinite(buses[["x", "y"]].to_numpy()).all()
    assert not buses.duplicated(["x", "y"]).any()
    slack = buses.loc[case.feeder.slack_bus]
    assert slack.y == buses.y.max()  # the substation on top of the tree
    if case.traffic is not None:  # the feeder beside (right of) the roads
        assert buses.x.min() > lay.nodes.x.max()
        assert lay.nodes.set_index("node").loc["T2"].tolist() == [1.0, 0.0]  # own coordinates


def figure_json(*args) -> dict:
    """The map figure as the page's JSON holds it."""
    import plotly.io as pio

    return json.loads(pio.to_json(map_figure(*args), validate=False))


def named(page: str, name: str) -> bool:
    """``name`` appears whole in the page: as a text label, or ending a hover line (plotly
    writes ``<`` as ``\\u003c`` in the embedded JSON)."""
    return any(f"{name}{end}" in page for end in ('"', "<br>", "\\u003cbr"))


def _frame_trace(fig: dict, frame: int, name: str) -> dict:
    """Trace ``name`` as shown at ``frame``: the frame's data merged into the trace, as
    plotly does (frames carry only what changes)."""
    names = [d.get("name") for d in fig["data"]]
    base = fig["data"][names.index(name)]
    fr = fig["frames"][frame]
    part = fr["data"][fr["traces"].index(names.index(name))]
    marker = {**base.get("marker", {}), **part.get("marker", {})}
    return {**base, **part, "marker": marker}


@pytest.fixture(scope="module")
def tn20_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("tn20") / "run"
    res = CliRunner().invoke(main, ["tariff", "--samples", "0", "--out", str(run)])
    assert res.exit_code == 0, res.output
    return run


def test_tn20_tariff_map(tn20_run, tmp_path):
    res = CliRunner().invoke(main, ["report", str(tn20_run)])  # case found: built in
    assert res.exit_code == 0, res.output
    page = (tn20_run / "figures" / "map.html").read_text(encoding="utf-8")
    report = (tn20_run / "report.html").read_text(encoding="utf-8")
    case = load_case("tn20-dn17")
    names = [
        *case.feeder.line_ids,
        *case.feeder.bus_ids,
        *case.traffic.stations.table.station,
        *case.traffic.network.segments.segment,
        *case.traffic.network.nodes.node,
    ]
    for text in (page, report):
        missing = [n for n in names if not named(text, n)]
        assert not missing
        assert external_urls(text) == []
    _, tables = read_run(tn20_run)
    fig = figure_json(case, tables)
    lines = pd.read_csv(tn20_run / "lines.csv", dtype={"line": str})
    buses = pd.read_csv(tn20_run / "buses.csv", dtype={"bus": str})
    tariffs = pd.read_csv(tn20_run / "tariffs.csv", dtype={"station": str})
    steps = sorted(lines.t.unique())
    assert len(fig["frames"]) == len(steps) == 24
    slider = fig["layout"]["sliders"][0]
    assert [s["label"] for s in slider["steps"]] == [f"{h:02d}:00" for h in range(24)]
    # the map opens at the step of the highest line loading
    busiest = int(lines.loc[lines.loading.idxmax(), "t"])
    assert slider["active"] == steps.index(busiest)
    for t in (busiest, 3):
        k = steps.index(t)
        bus_tr = _frame_trace(fig, k, "buses (voltage, pu)")
        v = buses[buses.t == t].set_index("bus").v_pu
        assert bus_tr["marker"]["color"] == pytest.approx(v.loc[case.feeder.bus_ids].tolist())
        st_tr = _frame_trace(fig, k, "stations (tariff (currency/kWh))")
        tar = tariffs[tariffs.t == t].set_index("station").tariff_per_kwh
        assert st_tr["marker"]["color"] == pytest.approx(tar.loc[st_tr["text"]].tolist())
        mid = _frame_trace(fig, k, "line names")
        load = lines[lines.t == t].set_index("line").loading
        want = [LOADING_COLOURS[hand_bin(load[n])] for n in mid["text"]]
        assert mid["marker"]["color"] == want
    # at the busiest step a station line sits at its limit, drawn in the 95-100 % layer
    k = steps.index(busiest)
    at_limit = lines[(lines.t == busiest) & (lines.loading > 0.95)].line.tolist()
    assert at_limit
    seg = _frame_trace(fig, k, "line loading 95-100 %")
    assert len(seg["x"]) == 3 * len(at_limit)  # one segment a, b, gap per line at the limit
    rendered = render(tn20_run / "figures" / "map.html", tmp_path)
    assert rendered.errors == []
    assert 'class="plotly' in rendered.dom and "main-svg" in rendered.dom


def test_report_case_option(tn20_run, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["report", str(tn20_run), "--case", "tn20-dn17", "--force"])
    assert res.exit_code == 0, res.output
    assert (tn20_run / "figures" / "map.html").is_file()
    res = runner.invoke(main, ["report", str(tn20_run), "--case", "ieee33", "--force"])
    assert res.exit_code == 2
    assert "is not in case 'ieee33'" in res.output and len(res.output.splitlines()) == 1
    res = runner.invoke(main, ["report", str(tn20_run), "--case", "no-such-case", "--force"])
    assert res.exit_code == 2 and "neither a built-in case" in res.output
    rendered = render(tn20_run / "report.html", tmp_path)
    assert rendered.errors == []
    assert "main-svg" in rendered.dom


@pytest.mark.slow  # ~25 s: a cigre-mv-ev strategy run (7 s of it loading the case)
def test_grid_only_strategy_map(tmp_path):
    run = tmp_path / "run"
    res = CliRunner().invoke(
        main, ["strategy", "cigre-mv-ev", "--strategy", "grid", "--out", str(run)]
    )
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["report", str(run)])
    assert res.exit_code == 0, res.output
    page = (run / "figures" / "map.html").read_text(encoding="utf-8")
    assert external_urls(page) == []
    case = load_case("cigre-mv-ev")
    assert all(named(page, f"line {n}") for n in case.feeder.line_ids)
    assert all(named(page, f"bus {n}") for n in case.feeder.bus_ids)
    _, tables = read_run(run)
    fig = figure_json(case, tables)
    assert len(fig["frames"]) == 72  # 16:00 to 10:00 in 15 min
    labels = [s["label"] for s in fig["layout"]["sliders"][0]["steps"]]
    assert labels[0] == "16:00" and labels[-1] == "09:45 +1d"
    buses = pd.read_csv(run / "buses.csv", dtype={"bus": str})
    lines = pd.read_csv(run / "lines.csv", dtype={"line": str})
    for t in (0, 12, 40):
        bus_tr = _frame_trace(fig, t, "buses (voltage, pu)")
        v = buses[buses.t == t].set_index("bus").v_pu
        assert bus_tr["marker"]["color"] == pytest.approx(v.loc[bus_tr["text"]].tolist())
        mid = _frame_trace(fig, t, "line names")
        load = lines[lines.t == t].set_index("line").loading
        assert mid["marker"]["color"] == [LOADING_COLOURS[hand_bin(load[n])] for n in mid["text"]]
    rendered = render(run / "figures" / "map.html", tmp_path)
    assert rendered.errors == [] and "main-svg" in rendered.dom


def test_grid_only_map_by_hand(tmp_path):
    """A feeder without roads (the tiny case's 3-bus feeder): tables made up by hand, so every
    colour is known; the feeder gets a tree layout and the map has no road layer."""
    from dataclasses import replace

    case = replace(tiny_case(steps=3), traffic=None, name="grid-only")
    ts3 = [0] * 3 + [1] * 3 + [2] * 3
    loading = [0.2, 0.49, 0.5, 0.96, 1.2, 0.8]
    v = [1.0, 0.99, 0.98, 1.0, 0.97, 0.95, 1.0, 0.96, 0.93]
    tables = {
        "lines": pd.DataFrame(
            {"line": ["a", "b"] * 3, "t": [0, 0, 1, 1, 2, 2], "loading": loading}
        ),
        "buses": pd.DataFrame({"bus": ["0", "1", "2"] * 3, "t": ts3, "v_pu": v}),
        "tariffs": pd.DataFrame(
            {"bus": ["0", "1", "2"] * 3, "t": ts3, "dlmp_per_kwh": np.arange(9) / 100}
        ),
    }
    fig = figure_json(case, tables)
    names = [d["name"] for d in fig["data"]]
    assert "roads" not in names and "station-bus links" not in names
    assert fig["layout"]["sliders"][0]["active"] == 2  # line a at 120 %
    bins = {  # by hand: 0.2, 0.49 -> < 50 %; 0.5 -> 50-80 %; 0.96 -> 95-100 %; 1.2 -> > 100 %
        0: ["#2ca02c", "#2ca02c"],
        1: ["#bcbd22", "#d62728"],
        2: ["#7b2d8e", "#ff7f0e"],
    }
    for t in range(3):
        assert _frame_trace(fig, t, "line names")["marker"]["color"] == bins[t]
        bus = _frame_trace(fig, t, "buses (voltage, pu)")
        assert bus["marker"]["color"] == tables["buses"].v_pu[3 * t : 3 * t + 3].tolist()
        assert f"DLMP {t * 3 / 100 + 0.02:.4g} /kWh" in bus["hovertext"][2]
    over = _frame_trace(fig, 2, "line loading > 100 %")
    lay = case_layout(case).buses.set_index("bus")
    assert over["x"] == [lay.x["0"], lay.x["1"], None]  # line a: bus 0 -> bus 1
    assert fig["layout"]["sliders"][0]["steps"][2]["label"] == "02:00"


def test_traffic_only_map_shows_what_the_run_has(tmp_path):
    from coupling.jobs.traffic import run_traffic

    case = tiny_case()
    tables = run_traffic(case).tables
    fig = figure_json(case, tables)
    names = [d["name"] for d in fig["data"]]
    # no grid results: plain buses, lines without result, stations coloured by their load
    assert "buses" in names and "stations (station load (kW))" in names
    st = tables["stations"]
    t = int(st.loc[st.p_kw.idxmax(), "t"])
    k = sorted(st.t.unique()).index(t)
    assert fig["layout"]["sliders"][0]["active"] == k
    tr = _frame_trace(fig, k, "stations (station load (kW))")
    want = st[st.t == t].set_index("station").p_kw
    assert tr["marker"]["color"] == pytest.approx(want.loc[tr["text"]].tolist())
    assert len(_frame_trace(fig, k, "lines (no result)")["x"]) == 3 * len(case.feeder.line_ids)
    page = tmp_path / "map.html"
    page.write_text(result_map(case, tables), encoding="utf-8")
    rendered = render(page, tmp_path)
    assert rendered.errors == [] and "main-svg" in rendered.dom


def test_report_without_a_known_case_says_how_to_add_the_map(tmp_path):
    from coupling.jobs.traffic import run_traffic
    from coupling.output.runfolder import Run, write_run

    run = run_traffic(tiny_case(), command="evtp traffic somewhere-else")
    write_run(Run(summary=run.summary, tables=run.tables), tmp_path / "run")
    res = CliRunner().invoke(main, ["report", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "No map" in page and "pass --case" in page
    assert not (tmp_path / "run" / "figures" / "map.html").exists()


def test_city_sized_map_stays_small():
    """Anaheim-scale roads (1,520 links): one trace per layer and the static roads kept out of
    the frames, so the figure stays small."""
    from dataclasses import replace

    from cases.case import TrafficData
    from traffic.network import RoadNetwork

    case = tiny_case()
    n = 20
    ids = [f"n{i}-{j}" for i in range(n) for j in range(n)]
    ids[:4] = ["O", "A", "B", "D"]  # the tiny case's demand and stations sit on these
    xy = np.array([(i, j) for i in range(n) for j in range(n)], dtype=float)
    nodes = pd.DataFrame({"node": ids, "x": xy[:, 0], "y": xy[:, 1]})
    pairs = [(a, a + 1) for a in range(n * n) if (a + 1) % n] + [
        (a, a + n) for a in range(n * (n - 1))
    ]
    pairs += [(b, a) for a, b in pairs]
    segs = pd.DataFrame(
        {
            "segment": [f"s{a}-{b}" for a, b in pairs],
            "from_node": [ids[a] for a, _ in pairs],
            "to_node": [ids[b] for _, b in pairs],
            "length_km": 1.0,
            "free_flow_steps": 1,
            "capacity_veh_per_step": 100.0,
            "soc_per_vehicle": 0.01,
        }
    )
    tr = case.traffic
    big = replace(case, traffic=TrafficData(RoadNetwork(nodes, segs), tr.stations, tr.demand))
    steps = range(case.time.steps)
    tables = {
        "lines": pd.DataFrame(
            [(x, t, 0.1 * t) for x in case.feeder.line_ids for t in steps],
            columns=["line", "t", "loading"],
        )
    }
    fig = figure_json(big, tables)
    assert len(segs) == 1520 and len(fig["data"]) < 15
    roads = {
        i for i, d in enumerate(fig["data"]) if d["name"] in ("roads", "road links", "road nodes")
    }
    assert len(roads) == 3
    assert all(not roads & set(f["traces"]) for f in fig["frames"])
    assert len(json.dumps(fig)) < 400_000


def test_fleet_load_and_bus_tariff_in_bus_hover():
    """hu2014-lv: bus tariffs (fleet capacity market) and the stationary EVs' load per bus."""
    case = load_case("hu2014-lv")
    evs = case.fleet.evs.set_index("ev").bus
    assert (evs["ev1"], evs["ev2"]) == ("H1", "H2")
    tables = {
        "fleet": pd.DataFrame(
            {"ev": ["ev1", "ev2", "ev2"], "t": [5, 5, 6], "p_kw": [2.3, 1.0, 0.7]}
        ),
        "tariffs": pd.DataFrame(
            {"bus": ["H1", "H1"], "t": [5, 6], "tariff_per_kwh": [0.081, 0.09]}
        ),
    }
    fig = figure_json(case, tables)
    hover = dict(zip(case.feeder.bus_ids, _frame_trace(fig, 0, "buses")["hovertext"]))
    assert hover["H1"].endswith("<br>tariff 0.081 /kWh<br>EV load 2.3 kW")
    assert hover["H2"].endswith("<br>EV load 1.0 kW")
    assert "EV load" not in hover["LV0"]  # no EV at the LV busbar
    hover = dict(zip(case.feeder.bus_ids, _frame_trace(fig, 1, "buses")["hovertext"]))
    assert hover["H1"].endswith("tariff 0.09 /kWh<br>EV load 0.0 kW")  # ev1 plugged out
    assert hover["H2"].endswith("<br>EV load 0.7 kW")


def test_run_case_spec_finds_built_in_names_and_case_folders(tmp_path, monkeypatch):
    from cases.folder import write_case
    from coupling.output.maps import run_case_spec

    assert run_case_spec({"case": "ieee33", "command": "evtp opf ieee33"}) == "ieee33"
    write_case(tiny_case(), tmp_path / "my case")
    cmd = f"evtp traffic '{tmp_path / 'my case'}' --out runs/x"
    assert run_case_spec({"case": "tiny", "command": cmd}) == str(tmp_path / "my case")
    monkeypatch.chdir(tmp_path)  # a relative folder on the command line, from where it ran
    assert run_case_spec({"case": "tiny", "command": "evtp traffic 'my case'"}, tmp_path) == str(
        tmp_path / "my case"
    )
    # another case's folder on the command line, or none at all: not found
    assert run_case_spec({"case": "other", "command": cmd}) is None
    assert run_case_spec({"case": "tiny", "command": "evtp traffic gone"}) is None


def test_a_case_folder_on_the_command_line_wins_over_the_built_in_name(tmp_path):
    from cases.folder import write_case
    from coupling.output.maps import run_case_spec

    write_case(load_case("tn20-dn17"), tmp_path / "edited")  # e.g. a copy edited by the user
    cmd = f"evtp tariff {tmp_path / 'edited'} --out x"
    assert run_case_spec({"case": "tn20-dn17", "command": cmd}) == str(tmp_path / "edited")
