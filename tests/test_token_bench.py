"""The token bench: its wrk scripts (a fresh event id every request), its latency client, and one
tiny run of both modes against a real `portus serve` on SQLite and the bare app."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.fixtures.database import backend, server_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import token_bench
from token_bench import EVENT_ID, Workload

BENCH = Path(__file__).resolve().parent.parent / "bench" / "token_bench.py"


def test_a_plain_body_is_sent_as_is() -> None:
    script = token_bench._lua_script(
        Workload("form", "POST", "/v2/token", {"Content-Type": "x"}, body="a=1&b=%41")
    )
    assert 'wrk.body = "a=1&b=%41"' in script
    assert "function request()" not in script


def test_an_event_body_gets_a_new_id_every_request() -> None:
    body = json.dumps({"events": [{"id": EVENT_ID, "note": "100%"}]})
    script = token_bench._lua_script(Workload("events", "POST", "/e", body=body), run="r1")
    assert "function request()" in script
    assert "wrk.body" not in script
    # string.format's template: the id's place is %s, a literal % is doubled.
    template = re.search(r"local template = (.*)\n", script)
    assert template is not None
    assert "%s" in template.group(1)
    assert "100%%" in template.group(1)
    assert '"r1-%d-%d"' in script


def test_event_workload_bodies_differ() -> None:
    workload = token_bench.workloads(token_bench.Credentials("a", "b", "c"))["events"]
    first, second = workload.body_for("1"), workload.body_for("2")
    assert first is not None
    assert second is not None
    assert json.loads(first)["events"][0]["id"] == "1"
    assert json.loads(second)["events"][0]["id"] == "2"


def test_the_socket_client_reads_answers_split_anyhow() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    answers = [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"HTTP/1.1 202 Accepted\r\n"]
    answers.append(b'Content-Length: 12\r\n\r\n{"stored":1}')

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(answers[0])
            connection.recv(65536)
            connection.sendall(answers[1])
            connection.sendall(answers[2])

    thread = threading.Thread(target=serve)
    thread.start()
    client = token_bench.SocketClient(f"http://127.0.0.1:{port}")
    try:
        ping = Workload("ping", "GET", "/p")
        assert client.exchange(client.encode(ping, "x")) == (200, b"{}")
        events = Workload("events", "POST", "/e", body=EVENT_ID, status=202)
        request = client.encode(events, "abc")
        assert request.endswith(b"Content-Length: 3\r\n\r\nabc")
        assert client.exchange(request) == (202, b'{"stored":1}')
    finally:
        client.close()
        thread.join()
        listener.close()


@pytest.mark.e2e
def test_a_tiny_run_on_sqlite(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    run = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--sqlite",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--connections",
            "4",
            "--requests",
            "20",
            "--latency-warmup",
            "2",
            "--block",
            "5",
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
    throughput = {row["workload"]: row for row in report["throughput"]["results"]}
    # The bare app's floors need PostgreSQL: a SQLite run leaves them out.
    assert set(throughput) == set(token_bench.THROUGHPUT) - set(token_bench.FLOORS)
    for row in throughput.values():
        assert row["requests"] > 0
        assert row["non_2xx"] == 0
        assert row["cpu_us"] > 0
    assert report["throughput"]["rps_over_bare"]["bare"] == 1.0
    latency = {row["workload"]: row for row in report["latency"]["results"]}
    assert set(latency) == set(token_bench.LATENCY) - set(token_bench.FLOORS)
    for row in latency.values():
        assert row["requests"] == 20
        assert 0 < row["p50_ms"] <= row["p95_ms"]
    assert report["latency"]["p50_over_token"]["token(app)"] == 1.0


@pytest.mark.e2e
@pytest.mark.skipif(backend() != "postgresql", reason="the floors need PostgreSQL")
def test_the_floors_on_postgresql(tmp_path: Path) -> None:
    """The bare app's floors answer (a query and a signature; a stored row) on PostgreSQL."""
    pg_admin_url = server_url()
    assert pg_admin_url is not None
    out = tmp_path / "result.json"
    command = [sys.executable, str(BENCH), "--pg", pg_admin_url, "--mode", "throughput"]
    command += ["--only", "floor(token),floor(write)", "--duration", "1", "--warmup", "0"]
    command += ["--connections", "4", "--json", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(out.read_text())["throughput"]["results"]
    throughput = {row["workload"]: row for row in results}
    assert set(throughput) == {"bare", "floor(token)", "floor(write)"}
    for row in throughput.values():
        assert row["requests"] > 0
        assert row["non_2xx"] == 0
