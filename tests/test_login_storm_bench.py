"""The login storm bench: its percentiles and ratios, and one tiny run against a real
`portus serve` on SQLite (a second of quiet, a second of a 4-client storm)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import login_storm_bench
from login_storm_bench import Phase

BENCH = Path(__file__).resolve().parent.parent / "bench" / "login_storm_bench.py"


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert login_storm_bench.percentile(values, 0.5) == 50.0
    assert login_storm_bench.percentile(values, 0.99) == 99.0
    assert math.isnan(login_storm_bench.percentile([], 0.5))


def test_summarise_gives_storm_over_quiet_ratios() -> None:
    quiet, loud = Phase("quiet"), Phase("storm")
    quiet.latencies = {"token(app)": [2.0] * 10, "ping": [1.0] * 10}
    loud.latencies = {"token(app)": [3.0] * 10, "ping": [1.0] * 9 + [4.0]}
    loud.statuses = {"token(app)": Counter({200: 10}), "ping": Counter({200: 10})}
    rows = login_storm_bench.summarise(quiet, loud)
    assert rows["token(app)"]["ratio_p50"] == 1.5
    assert rows["ping"]["ratio_p50"] == 1.0
    assert rows["ping"]["ratio_p99"] == 4.0
    assert rows["token(app)"]["storm_statuses"] == {200: 10}


@pytest.mark.e2e
def test_a_tiny_run_on_sqlite(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    run = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--db",
            "sqlite",
            "--duration",
            "1",
            "--storm",
            "4",
            "--storm-requests",
            "8",
            "--probes",
            "1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())
    assert report["db"] == "sqlite"
    assert report["storm_logins"] <= 8  # argon2 at full cost: maybe none answered in 1 s
    assert set(report["storm_statuses"]) <= {"401", "429", "503"}
    for probe in ("token(app)", "ping"):
        row = report["results"][probe]
        assert row["quiet_requests"] > 0 and row["storm_requests"] > 0
        assert set(row["quiet_statuses"]) == {"200"} and set(row["storm_statuses"]) == {"200"}
        assert row["ratio_p50"] > 0
