"""The telemetry exporter: OTLP/HTTP JSON to a local receiver, retries, a bounded queue, console lines."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runtime import telemetry
from runtime.telemetry import EVENT_NAME, ConsoleSink, FeedbackTelemetry, InMemorySink, OtlpHttpSink
from tests.helpers import otlp_attributes, otlp_log_records


def record(event_id: str) -> str:
    """A record as ClickHouse builds it (``consumers.announcements``)."""
    return json.dumps(
        {
            "timeUnixNano": "1764400000000000000",
            "eventName": EVENT_NAME,
            "attributes": [
                {"key": "feedback.event_id", "value": {"stringValue": event_id}},
                {"key": "feedback.rating", "value": {"intValue": "4"}},
                {"key": "feedback.reasons", "value": {"arrayValue": {"values": [{"stringValue": "slow"}]}}},
                {"key": "feedback.has_comment", "value": {"boolValue": False}},
            ],
        }
    )


class Receiver:
    """A tiny OTLP/HTTP logs receiver: answers each POST with the next planned status (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.paths.append(self.path)
                receiver.headers.append(dict(self.headers))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(body)
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver([503, 502])
    yield server
    server.close()


def test_otlp_export_reaches_a_receiver_as_valid_otlp_with_headers_and_retries(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url + "/")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20s3cret,x-tenant=acme")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "feedback-worker")
    monkeypatch.setattr(telemetry, "BACKOFF_S", 0.01)
    monkeypatch.setattr(telemetry, "RECORDS_PER_REQUEST", 2)
    sender = FeedbackTelemetry("otlp")
    sender.submitted_many([record("e1"), record("e2"), record("e3")])
    sender.shutdown()

    assert receiver.paths == ["/v1/logs"] * 4  # 503 and 502 retried, then two requests of ≤ 2 records
    assert receiver.headers[-1]["Authorization"] == "Bearer s3cret"
    assert receiver.headers[-1]["x-tenant"] == "acme"
    assert receiver.headers[-1]["Content-Type"] == "application/json"
    records = otlp_log_records(receiver.bodies)
    assert [otlp_attributes(r)["feedback.event_id"] for r in records] == ["e1", "e2", "e3"]
    assert records[0].event_name == EVENT_NAME
    assert otlp_attributes(records[0]) == {
        "feedback.event_id": "e1",
        "feedback.rating": 4,
        "feedback.reasons": ["slow"],
        "feedback.has_comment": False,
    }
    request = json.loads(receiver.bodies[0])["resourceLogs"][0]
    resource = {a["key"]: a["value"] for a in request["resource"]["attributes"]}
    assert resource["service.name"] == {"stringValue": "feedback-worker"}  # the standard variable counts
    assert request["scopeLogs"][0]["scope"]["name"] == "feedback-pipeline"


def test_the_logs_endpoint_is_used_as_given_and_gzip_is_honoured(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.statuses.clear()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", receiver.url + "/custom/logs")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    sink = OtlpHttpSink()
    sink.send([record("e1")])
    sink.close()
    assert receiver.paths == ["/custom/logs"]
    assert receiver.headers[0]["Content-Encoding"] == "gzip"
    assert [otlp_attributes(r)["feedback.event_id"] for r in otlp_log_records(receiver.bodies)] == ["e1"]


def test_a_refused_request_is_dropped_not_retried(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver.statuses[:] = [400]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    sink = OtlpHttpSink()
    sink.send([record("e1")])
    sink.close()
    assert receiver.paths == ["/v1/logs"]
    assert receiver.bodies == []


def test_an_unreachable_collector_gives_up_after_the_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setattr(telemetry, "BACKOFF_S", 0.001)
    sink = OtlpHttpSink()
    sink.send([record("e1")])  # returns: dropped and logged, never raised into the worker
    sink.close()


class Stuck:
    """A sink that waits until released: the sending thread is behind."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.sent: list[str] = []

    def send(self, records: Sequence[str]) -> None:
        self.release.wait(10)
        self.sent.extend(records)

    def close(self) -> None:
        return None


def test_a_full_queue_drops_batches_and_never_blocks_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telemetry, "QUEUED_BATCHES", 2)
    sink = Stuck()
    sender = FeedbackTelemetry(sink)
    for n in range(10):  # returns at once although nothing is sent
        sender.submitted_many([record(f"e{n}")])
    sink.release.set()
    sender.shutdown()
    assert 1 <= len(sink.sent) <= 3  # the one being sent and the two queued; the rest were dropped


def test_console_writes_one_json_record_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleSink().send([record("e1"), record("e2")])
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["attributes"][0]["value"]["stringValue"] for line in lines] == ["e1", "e2"]


def test_off_by_default_and_in_memory_for_tests() -> None:
    assert not FeedbackTelemetry().enabled
    sink = InMemorySink()
    sender = FeedbackTelemetry(sink)
    sender.submitted_many([record("e1")])
    sender.shutdown()
    assert [otlp_attributes(r)["feedback.event_id"] for r in otlp_log_records(sink.requests)] == ["e1"]
