"""A small, known story for the dashboard's tests, posted through the real collector and worker.

Under a feature of its own (so other tests' rows never mix in), tenant acme:

* ``m-old`` / prompt ``p1``, three hours ago: response 1 (user a says down, then changes to up;
  user b says down with a comment; a regenerate and a copy) and response 2 (user a up, user c
  rates 5, two copies);
* ``m-new`` / prompt ``p2``, one hour ago: response 3 (users a and b down "incorrect", user c
  rates 1, a rephrase, two regenerates and an edit) — the worst.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.helpers import event, new_id, trace, wait_for
from tests.integration.conftest import RunningPipeline

HOUR_MS = 3_600_000


@dataclass
class DashboardStory:
    feature: str
    responses: dict[str, dict[str, str]] = field(default_factory=dict)
    events: int = 0


def post_story(pipeline: RunningPipeline) -> DashboardStory:
    now = int(time.time() * 1000)
    story = DashboardStory(feature=new_id("dash-"))
    plan: list[tuple[str, str, str, int, list[dict[str, Any]]]] = [
        (
            "r1",
            "m-old",
            "p1",
            now - 3 * HOUR_MS,
            [
                {"type": "thumbs", "value": "down", "reasons": ["hallucinated"], "user_id": "a"},
                {"type": "thumbs", "value": "up", "reasons": ["useful"], "user_id": "a", "later": 60_000},
                {
                    "type": "thumbs",
                    "value": "down",
                    "reasons": ["hallucinated", "too_long"],
                    "user_id": "b",
                    "comment": "It invented a refund policy.",
                },
                {"type": "regenerate", "user_id": "b"},
                {"type": "copy", "user_id": "a"},
            ],
        ),
        (
            "r2",
            "m-old",
            "p1",
            now - 3 * HOUR_MS + 120_000,
            [
                {"type": "thumbs", "value": "up", "reasons": ["correct"], "user_id": "a"},
                {"type": "rating", "value": 5, "user_id": "c"},
                {"type": "copy", "user_id": "a"},
                {"type": "copy", "user_id": "c"},
            ],
        ),
        (
            "r3",
            "m-new",
            "p2",
            now - HOUR_MS,
            [
                {"type": "thumbs", "value": "down", "reasons": ["incorrect"], "user_id": "a"},
                {"type": "thumbs", "value": "down", "reasons": ["incorrect"], "user_id": "b"},
                {"type": "rating", "value": 1, "user_id": "c"},
                {"type": "rephrase", "user_id": "a"},
                {"type": "regenerate", "user_id": "a"},
                {"type": "regenerate", "user_id": "b"},
                {"type": "edit", "user_id": "b"},
            ],
        ),
    ]
    traces, events = [], []
    for name, model_version, prompt_version, at, signals in plan:
        conversation, trace_id = new_id("conv-"), new_id(f"{name}-trace-")
        message_id = new_id(f"{name}-msg-")
        story.responses[name] = {"trace_id": trace_id, "message_id": message_id, "model_version": model_version}
        traces.append(
            trace(
                trace_id,
                conversation,
                message_id=message_id,
                timestamp=at,
                model_version=model_version,
                prompt_version=prompt_version,
                feature=story.feature,
                input_text=f"Question for {name}: can I get a refund after 30 days?",
                output_text=f"Answer {name}: refunds are possible within 90 days of purchase.",
            )
        )
        for offset, signal in enumerate(signals):
            fields = dict(signal)
            later = int(fields.pop("later", 0))
            kind = fields.pop("type")
            events.append(
                event(
                    kind,
                    conversation_id=conversation,
                    trace_id=trace_id,
                    message_id=message_id,
                    timestamp=at + 1_000 + offset + later,
                    **fields,
                )
            )
    posted = pipeline.post("/v1/traces", {"traces": traces}, key="secret")
    assert posted.status_code == 202, posted.text
    posted = pipeline.post("/v1/events", {"events": events}, key="secret")
    assert posted.status_code == 202, posted.text
    assert posted.json()["accepted"] == len(events), posted.text
    story.events = len(events)
    pipeline.wait_rows(
        "SELECT 1 FROM events WHERE feature = {f:String} AND trace_joined",
        len(events),
        timeout_s=60,
        f=story.feature,
    )
    pipeline.wait_rows("SELECT 1 FROM traces WHERE feature = {f:String}", len(traces), timeout_s=60, f=story.feature)
    # Opinions are the worker's second insert of a batch: wait until every rater's current
    # opinion is stored and counted under the feature, not only its event.
    raters = pipeline.rows(
        "SELECT uniqExact(message_id, rater) FROM events WHERE feature = {f:String} AND type IN ('thumbs', 'rating')",
        f=story.feature,
    )[0][0]
    wait_for(lambda: _opinions_counted(pipeline, story.feature, raters), 60, what="every current opinion counted")
    return story


def _opinions_counted(pipeline: RunningPipeline, feature: str, raters: int) -> bool:
    """Every rater of the feature's messages is in ratings_current, and quality_hourly counts
    exactly their current thumbs and ratings."""
    stored, opinions = pipeline.rows(
        "SELECT count(), countIf(thumb IN ('up', 'down')) + countIf(rating IS NOT NULL) FROM ratings_current "
        "WHERE message_id IN (SELECT message_id FROM events WHERE feature = {f:String})",
        f=feature,
    )[0]
    counted = pipeline.rows(
        "SELECT sum(thumbs_up + thumbs_down + ratings) FROM quality_hourly WHERE feature = {f:String}", f=feature
    )[0][0]
    return bool(stored == raters and counted == opinions)
