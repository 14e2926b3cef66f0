"""The events bench's own parts: the envelopes it sends (as the service parses them), its HTTP
client's response reading, and the check that fails a round which lost or doubled an event."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import httptools
import pytest

from app.registry.events import processor, service

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import events_bench
from events_bench import ACCEPTED_BODY, Counts, LoadResult, Pushed

DIGEST = "sha256:" + "ab" * 32
MOMENT = datetime(2026, 11, 29, 1, 38, 46, 983704, tzinfo=UTC)


def _envelope(pushed: Pushed) -> bytes:
    return events_bench.push_envelope(
        pushed,
        "127.0.0.1:5000",
        actor="admin",
        event_id="7da5ff26",
        request_id="de0395b7",
        instance_id="772657d2",
        moment=MOMENT,
        client_port=54826,
    )


def test_push_envelope_is_what_the_registry_sends_and_the_service_keeps() -> None:
    pushed = Pushed("bench/app001", "r1-3", DIGEST, 401)
    raw = _envelope(pushed)

    [event] = service.parse_envelope(raw)
    assert service.is_relevant(event)
    assert event.payload["timestamp"] == "2026-11-29T01:38:46.983704000Z"
    assert processor._timestamp(event) == MOMENT
    assert event.payload["target"] == {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "size": 401,
        "digest": DIGEST,
        "length": 401,
        "repository": "bench/app001",
        "url": f"http://127.0.0.1:5000/v2/bench/app001/manifests/{DIGEST}",
        "tag": "r1-3",
    }
    assert event.payload["request"]["host"] == "127.0.0.1:5000"
    assert event.payload["request"]["method"] == "PUT"
    assert event.payload["actor"] == {"name": "admin"}
    assert processor._push_key(event) == ("bench/app001", DIGEST)


def test_envelopes_have_distinct_event_ids() -> None:
    pushes = [Pushed("bench/app000", f"t{i}", DIGEST, 10) for i in range(50)]
    bodies = events_bench.envelopes(pushes, "127.0.0.1:5000", "admin")
    ids = {json.loads(body)["events"][0]["id"] for body in bodies}
    assert len(ids) == 50


def test_encoded_requests_parse_as_http() -> None:
    body = b'{"events":[]}'
    raw = events_bench.encode_request(
        "POST", "/v2/webhooks/events", "127.0.0.1:3000", [("Authorization", "Bearer x")], body
    )
    seen: dict[str, object] = {"headers": {}}

    class Protocol:
        def on_url(self, url: bytes) -> None:
            seen["url"] = url

        def on_header(self, name: bytes, value: bytes) -> None:
            headers = seen["headers"]
            assert isinstance(headers, dict)
            headers[name.decode().lower()] = value.decode()

        def on_body(self, chunk: bytes) -> None:
            seen["body"] = chunk

        def on_message_complete(self) -> None:
            seen["complete"] = True

    parser = httptools.HttpRequestParser(Protocol())
    parser.feed_data(raw)
    assert parser.get_method() == b"POST"
    assert seen == {
        "url": b"/v2/webhooks/events",
        "headers": {
            "host": "127.0.0.1:3000",
            "authorization": "Bearer x",
            "content-length": str(len(body)),
        },
        "body": body,
        "complete": True,
    }
    assert b"Content-Length" not in events_bench.encode_request("GET", "/_ping", "h")


async def _read(data: bytes) -> tuple[int, bytes, bool]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return await events_bench.read_response(reader)


async def test_read_response_with_a_length_keeps_the_connection() -> None:
    answer = b'HTTP/1.1 202 Accepted\r\ncontent-length: 12\r\n\r\n{"stored":1}HTTP/1.1 200'
    assert await _read(answer) == (202, b'{"stored":1}', True)


async def test_read_response_chunked_and_closing() -> None:
    answer = (
        b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n4\r\nboom\r\n3;x=1\r\n!!!\r\n0\r\n\r\n"
    )
    assert await _read(answer) == (500, b"boom!!!", False)


async def test_read_response_without_a_length_reads_to_the_end() -> None:
    assert await _read(b"HTTP/1.0 200 OK\r\n\r\nall of it") == (200, b"all of it", False)


@pytest.mark.parametrize("answer", [b"", b"SSH-2.0-OpenSSH\r\n", b"HTTP/1.1 200 OK\r\nA: b\r\n"])
async def test_read_response_rejects_what_is_not_a_whole_response(answer: bytes) -> None:
    with pytest.raises(ConnectionError):
        await _read(answer)


def test_summarise_uses_nearest_rank_percentiles() -> None:
    raw = {
        "latencies": [i / 1000 for i in range(100, 0, -1)],  # 1..100 ms, unsorted
        "seconds": 2.0,
        "statuses": {202: 100},
        "bodies": {ACCEPTED_BODY: 100},
        "errors": 0,
        "first_error": "",
        "started_at": 5.0,
    }
    result = events_bench.summarise(raw)
    assert result.requests == 100
    assert result.rps == 50.0
    assert result.p50_ms == pytest.approx(50.0)
    assert result.p99_ms == pytest.approx(99.0)


def test_requests_to_send_each_once_or_cycled_for_a_duration() -> None:
    assert list(events_bench._requests_to_send([b"a", b"b"], None)) == [b"a", b"b"]
    cycled = list(islice(events_bench._requests_to_send([b"a", b"b"], 60.0), 5))
    assert cycled == [b"a", b"b", b"a", b"b", b"a"]
    assert list(events_bench._requests_to_send([b"a"], 0.0)) == []


# --- the round check -----------------------------------------------------------------------------
N = 3
PUSHES = [Pushed("bench/app000", f"r1-{i}", f"sha256:{i:064x}", 400) for i in range(N)]
BEFORE = Counts(
    tags=40,
    push_activities=40,
    events=40,
    events_pending=0,
    events_failed=0,
    events_with_error=0,
    tags_without_size=0,
)
AFTER = replace(BEFORE, tags=43, push_activities=43, events=43)
INTAKE = LoadResult(
    requests=N,
    seconds=1.0,
    rps=3.0,
    p50_ms=1.0,
    p99_ms=2.0,
    statuses={202: N},
    bodies={ACCEPTED_BODY: N},
    errors=0,
    first_error="",
    started_at=0.0,
)
RECORDED = [(p.repository, p.tag, p.digest) for p in PUSHES]


def _problems(
    after: Counts = AFTER,
    intake: LoadResult = INTAKE,
    recorded: list[tuple[str, str, str]] = RECORDED,
) -> list[str]:
    return events_bench.round_problems(N, BEFORE, after, intake, PUSHES, recorded)


def test_a_clean_round_has_no_problem() -> None:
    assert _problems() == []


def test_a_lost_event_fails_the_round() -> None:
    problems = _problems(
        after=replace(AFTER, tags=42, push_activities=42, events=42), recorded=RECORDED[:2]
    )
    assert "tags: +2 in this round, expected +3" in problems
    assert "events: +2 in this round, expected +3" in problems
    assert "1 tags missing (e.g. bench/app000:r1-2)" in problems


def test_an_event_applied_twice_fails_the_round() -> None:
    problems = _problems(after=replace(AFTER, push_activities=44))
    assert problems == ["push_activities: +4 in this round, expected +3"]


def test_unfinished_skipped_or_blind_events_fail_the_round() -> None:
    after = replace(AFTER, events_pending=1, events_with_error=2, tags_without_size=3)
    assert _problems(after=after) == [
        "events_pending: +1 in this round, expected +0",
        "events_with_error: +2 in this round, expected +0",
        "tags_without_size: +3 in this round, expected +0",
    ]


def test_intake_failures_and_wrong_digests_fail_the_round() -> None:
    intake = replace(
        INTAKE,
        requests=2,
        statuses={202: 1, 500: 1},
        bodies={ACCEPTED_BODY: 1, "Internal Server Error": 1},
        errors=1,
        first_error="ConnectionResetError()",
    )
    wrong = [*RECORDED[:2], (PUSHES[2].repository, PUSHES[2].tag, DIGEST)]
    problems = _problems(intake=intake, recorded=wrong)
    assert problems == [
        "1 POSTs got no answer (first: ConnectionResetError())",
        "the intake answered {202: 1, 500: 1}, not 202 every time",
        "the intake's answers were {'{\"stored\":1}': 1, 'Internal Server Error': 1},"
        ' not {"stored":1} each',
        "1 tags wrong digest (e.g. bench/app000:r1-2)",
    ]
    duplicated = _problems(recorded=[*RECORDED, RECORDED[0]])
    assert duplicated == ["bench/app000:r1-0 recorded twice"]


def test_notable_log_leaves_out_the_info_lines(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    log.write_text(
        'INFO httpx: HTTP Request: GET http://r/v2/a/manifests/x "HTTP/1.1 200 OK"\n'
        "WARNING app.registry.events.processor: cannot inspect a@x: timed out\n"
        "Traceback (most recent call last):\n"
        "INFO httpx: HTTP Request: GET http://r/v2/b/manifests/y\n"
    )
    assert events_bench.notable_log(log) == (
        "WARNING app.registry.events.processor: cannot inspect a@x: timed out\n"
        "Traceback (most recent call last):"
    )
