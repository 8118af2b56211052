"""The command line talks: bare ``evtp`` helps, start-up imports no model code, the help lists
the commands in workflow order with an example each, and messages say what the run does."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from coupling.cli import WORKFLOW, main

EVTP = [sys.executable, "-m", "coupling.cli"]
HEAVY = ("numpy", "pandas", "pyomo", "pandapower", "matplotlib", "dask", "scipy", "geopandas")


def test_bare_evtp_prints_help_and_exits_0():
    r = subprocess.run(EVTP, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: ") and "Commands:" in r.stdout


def test_help_lists_the_commands_in_workflow_order():
    r = CliRunner().invoke(main, ["--help"])
    assert r.exit_code == 0
    listed = r.output.split("Commands:\n")[1].splitlines()
    names = [line.split()[0] for line in listed if line.startswith("  ") and line.split()]
    names = [n for n in names if n in main.commands]
    assert (
        names
        == list(WORKFLOW)
        == [
            "cases",
            "build",
            "check",
            "powerflow",
            "opf",
            "traffic",
            "strategy",
            "tariff",
            "sweep",
            "hosting",
            "compare",
            "report",
        ]
    )


@pytest.mark.parametrize("command", WORKFLOW)
def test_every_command_has_an_example(command):
    r = CliRunner().invoke(main, [command, "--help"])
    assert r.exit_code == 0
    assert "Example" in r.output and f"evtp {command}" in r.output.split("Example")[1]


def test_strategy_help_describes_the_seven_strategies():
    from coupling.jobs.strategy import STRATEGIES

    r = CliRunner().invoke(main, ["strategy", "--help"])
    lines = r.output.split("Strategies:")[1].split("Example")[0].strip().splitlines()
    assert [line.split()[0] for line in lines] == list(STRATEGIES)
    assert all(len(line.split()) > 3 for line in lines)


@pytest.mark.parametrize("args", [["--help"], ["cases"], []])
def test_start_up_imports_no_model_code(args):
    code = (
        "import sys\n"
        "from coupling.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_importing_the_figures_leaves_the_matplotlib_backend_alone():
    code = (
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import coupling.output.figures, coupling.studies.compare, coupling.output.report\n"
        "print(matplotlib.get_backend())\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "svg"


def test_tariff_message_names_the_mechanism_it_runs(tmp_path, monkeypatch):
    """hu2014-lv is a fleet capacity market: it runs by subgradient, as summary.json says."""
    import coupling.jobs.tariff as tj

    def stop(*a, **k):
        raise FileExistsError("stopped after the first line")

    monkeypatch.setattr(tj, "run_tariff", stop)
    r = CliRunner().invoke(main, ["tariff", "hu2014-lv", "--out", str(tmp_path / "R")])
    first = r.stdout.splitlines()[0]
    assert "subgradient mechanism" in first and "dlmp" not in first
    r = CliRunner().invoke(main, ["tariff", "tn20-dn17", "--out", str(tmp_path / "R")])
    assert "dlmp mechanism" in r.stdout.splitlines()[0]
