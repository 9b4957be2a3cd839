"""The alert webhook's retry policy and the command line's durations (no services)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from quality import webhook
from quality.durations import parse_duration
from quality.metrics import WEBHOOK_FAILURES


def test_durations() -> None:
    assert parse_duration("1h") == 3600
    assert parse_duration("24h") == 86_400
    assert parse_duration("30m") == 1800
    assert parse_duration("1.5d") == 129_600
    for bad in ("", "1", "h", "-1h", "0m", "1y"):
        with pytest.raises(ValueError, match=r"--window: .* is not a duration"):
            parse_duration(bad, "--window")


def _answers(monkeypatch: pytest.MonkeyPatch, answers: list[int | Exception]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def post(url: str, json: dict[str, Any], timeout: float) -> httpx.Response:
        sent.append(json)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, request=httpx.Request("POST", url))

    monkeypatch.setattr("quality.webhook.httpx.post", post)
    return sent


def test_retries_server_errors_and_network_errors_with_doubling_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = _answers(monkeypatch, [httpx.ConnectError("refused"), 503, 200])
    waits: list[float] = []
    assert webhook.post_alerts("http://hook", [{"metric": "down_rate"}], attempts=4, backoff_s=1, sleep=waits.append)
    assert waits == [1, 2]
    assert sent == [{"alerts": [{"metric": "down_rate"}]}] * 3


def test_gives_up_after_the_attempts_and_on_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    failures = WEBHOOK_FAILURES._value.get()
    _answers(monkeypatch, [500, 500, 500])
    assert not webhook.post_alerts("http://hook", [{}], attempts=3, backoff_s=0, sleep=lambda _: None)
    sent = _answers(monkeypatch, [400])
    assert not webhook.post_alerts("http://hook", [{}], attempts=3, backoff_s=0, sleep=lambda _: None)
    assert len(sent) == 1  # a 400 is not retried: the receiver refuses this body
    assert WEBHOOK_FAILURES._value.get() == failures + 2
