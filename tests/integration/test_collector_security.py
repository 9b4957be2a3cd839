"""Issue 10 from the outside: logs hold nothing secret or personal, keys are revoked by editing
the keys file, and the default limits stop one client however it names its users."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from feedback.services import CollectorServer, make_collector
from runtime.kafka import ensure_topics
from runtime.settings import Settings
from schemas.serde import AvroEncoder
from tests.helpers import event, free_port, new_id, trace, wait_for
from tests.integration.kafka_tools import produce_raw
from tests.integration.processes import feedback_env, query_json, start_feedback, terminate

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

EMAIL = "jane.doe.pii@example.com"
PII = {
    "email": EMAIL,
    "comment": "Call me on +1 555 0100, my card is 4111 1111 1111 1111",
    "edited": "The patient Jane Doe, born 1980-02-03, lives at 12 Elm Street",
    "user": "user-jane-doe-7f3a",
    "session": "session-jane-doe-9b2c",
    "property": "jane-private-property-value",
}


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_run_with_personal_data_logs_none_of_it_nor_secret_keys(tmp_path: Path, kafka_settings: Settings) -> None:
    port, prefix = free_port(), f"pii-{new_id()}."
    env = feedback_env(
        FEEDBACK_KAFKA_BOOTSTRAP=kafka_settings.kafka_bootstrap,
        FEEDBACK_HTTP_ADDR=f"127.0.0.1:{port}",
        FEEDBACK_TOPIC_PREFIX=prefix,
        FEEDBACK_LOG_FORMAT="console",  # the renderer that could show tracebacks' locals
        FEEDBACK_LOG_LEVEL="debug",
    )
    log = tmp_path / "up.log"
    process = start_feedback("up", env=env, cwd=tmp_path, log=log)
    keys = {}
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _healthy(base), 90, what="feedback up serving")
        keys = {k["kind"]: k["key"] for k in json.loads((tmp_path / ".data" / "keys.json").read_text())["keys"]}
        public, secret = {"Authorization": f"Bearer {keys['public']}"}, {"Authorization": f"Bearer {keys['secret']}"}
        conversation, trace_id = new_id("conv-"), new_id("trace-")
        who = {"user_id": PII["user"], "session_id": PII["session"]}
        good = [
            event("thumbs", conversation_id=conversation, trace_id=trace_id, comment=PII["comment"], **who),
            event("edit", conversation_id=conversation, trace_id=trace_id, edited_text=PII["edited"], **who),
            event("copy", conversation_id=conversation, properties={"contact": EMAIL, "x": PII["property"]}, **who),
        ]
        bad = [
            event("comment", comment=f"{EMAIL} " * 500, **who),  # too long
            event("rating", value=PII["comment"], **who),  # wrong value
            {**event("copy", **who), EMAIL: PII["property"]},  # a field named by the client
        ]
        sent = httpx.post(f"{base}/v1/events", json={"events": good + bad}, headers=public)
        assert sent.status_code == 202, sent.text
        assert sent.json()["accepted"] == 3
        huge = trace(trace_id, conversation, user_id=PII["user"], input_text=EMAIL * 23_000, output_text=EMAIL)
        assert httpx.post(f"{base}/v1/traces", content=orjson.dumps(huge), headers=secret).status_code == 400
        small = trace(trace_id, conversation, user_id=PII["user"], output_text=PII["edited"])
        assert httpx.post(f"{base}/v1/traces", json=small, headers=secret).status_code == 202
        for headers in ({"Authorization": f"Bearer sk_{EMAIL}"}, {}):
            assert httpx.post(f"{base}/v1/events", json=good[0], headers=headers).status_code == 401
        not_json = httpx.post(f"{base}/v1/events", content=f"{{{EMAIL}".encode(), headers=public)
        assert not_json.status_code == 400
        # a poison message in the topic (a type nobody knows), carrying personal data: to the DLQ
        bogus = {**_record(conversation), "type": "bogus", "comment": PII["comment"], "user_id": PII["user"]}
        produce_raw(
            kafka_settings.model_copy(update={"topic_prefix": prefix}),
            f"{prefix}explicit",
            AvroEncoder("event").encode(bogus),
            f"dev/{conversation}".encode(),
        )
        sql = f"SELECT count() FROM events WHERE conversation_id = '{conversation}'"
        wait_for(lambda: query_json(sql, env, tmp_path)["rows"] == [[3]], 60, what="the good events stored")
    finally:
        assert terminate(process) == 0, log.read_text()[-3000:]
    text = log.read_text()
    assert "pipeline.up" in text
    assert "dlq.send" in text
    assert keys["public"] in text  # the demo URL: browser-safe
    assert "feedback keys --kind secret" in text
    for secret_value in (keys["secret"], keys["admin"], f"sk_{EMAIL}"):
        assert secret_value not in text
    for name, value in PII.items():
        assert value not in text, f"{name} leaked into the logs"
    assert "jane" not in text.lower()


def _record(conversation: str) -> dict[str, Any]:
    now = 1_795_608_000_000
    return {
        "event_id": "0f8fad5b-d9cb-469f-a165-70867728950e", "tenant_id": "dev", "type": "thumbs",
        "timestamp": now, "sent_at": None, "received_at": now, "ts": now, "conversation_id": conversation,
        "trace_id": "t", "message_id": "m", "turn_id": None, "response_id": None, "session_id": None,
        "user_id": None, "value": "up", "reasons": [], "comment": None, "edited_text": None,
        "edit_distance": None, "copied_chars": None, "attempt": None, "dwell_ms": None, "properties": {},
    }  # fmt: skip


def test_revoking_a_key_in_the_file_takes_effect_without_a_restart(tmp_path: Path, kafka_settings: Settings) -> None:
    keys_file = tmp_path / "keys.json"
    keys = [
        {"key": "sk_keep", "tenant": "acme", "kind": "secret"},
        {"key": "sk_gone", "tenant": "acme", "kind": "secret"},
    ]
    keys_file.write_text(json.dumps({"keys": keys}))
    settings = kafka_settings.model_copy(
        update={"http_addr": f"127.0.0.1:{free_port()}", "keys_file": keys_file, "keys_reload_s": 0.2}
    )
    ensure_topics(settings)
    server = CollectorServer(settings, make_collector(settings, with_query=False))
    thread = server.start_in_thread()
    base = f"http://{settings.http_addr}"

    def status(key: str) -> int:
        return httpx.post(
            f"{base}/v1/events", json=event("copy"), headers={"Authorization": f"Bearer {key}"}
        ).status_code

    try:
        wait_for(lambda: _healthy(base), 30, what="collector up")
        assert status("sk_gone") == 202
        replacement = tmp_path / "keys.json.new"
        replacement.write_text(json.dumps({"keys": [*keys[:1], {"key": "sk_new", "tenant": "acme", "kind": "secret"}]}))
        os.replace(replacement, keys_file)
        wait_for(lambda: status("sk_gone") == 401, 10, 0.2, what="the revoked key refused")
        assert status("sk_new") == 202
        keys_file.write_text('{"keys": [{"key": "", "kind": "secret"}]}')  # a bad edit: the last good keys stay
        os.utime(keys_file, ns=(1, 1))
        assert status("sk_keep") == 202
        assert status("sk_new") == 202
    finally:
        server.stop()
        thread.join(30)


def test_default_limits_stop_one_client_however_it_names_its_users(kafka_settings: Settings) -> None:
    defaults = {name: field.default for name, field in Settings.model_fields.items() if name.startswith("rate_limit")}
    settings = kafka_settings.model_copy(update={"http_addr": f"127.0.0.1:{free_port()}", **defaults})
    ensure_topics(settings)
    server = CollectorServer(settings, make_collector(settings, with_query=False))
    thread = server.start_in_thread()
    base = f"http://{settings.http_addr}"
    try:
        wait_for(lambda: _healthy(base), 30, what="collector up")
        with httpx.Client(base_url=base, headers={"Authorization": "Bearer pk_test_acme"}, timeout=30) as http:
            statuses = [
                http.post("/v1/events", json={"events": [event("copy", user_id=new_id()) for _ in range(50)]})
                for _ in range(40)
            ]
        assert statuses[0].status_code == 202
        limited = [r for r in statuses if r.status_code == 429]
        assert limited, "2000 events from one address under 40 invented users each"
        assert "client address" in limited[0].json()["error"]
        assert int(limited[0].headers["retry-after"]) >= 1
    finally:
        server.stop()
        thread.join(30)
