"""The DLQ limit: a share of recent messages, with a minimum before any verdict."""

from __future__ import annotations

import pytest

from consumers.dlq_limit import DlqLimit, DlqLimitExceeded


def test_a_few_letters_pass_and_a_flood_stops() -> None:
    limit = DlqLimit(max_share=0.5, window=100, min_messages=10)
    for _ in range(20):
        limit.consumed(10)
        limit.check(2)  # 20 %: fine, however long it goes on
    limit.consumed(10)
    with pytest.raises(DlqLimitExceeded, match=r"FEEDBACK_DLQ_MAX_SHARE=0\.5"):
        limit.check(10 + 60)  # this batch and more would exceed half of the last 100


def test_no_verdict_below_the_minimum_and_old_batches_leave_the_window() -> None:
    limit = DlqLimit(max_share=0.5, window=20, min_messages=10)
    limit.consumed(3)
    limit.check(3)  # 3 of 3, but too few messages to judge
    for _ in range(4):
        limit.consumed(10)
        limit.check(0)
    limit.consumed(10)
    limit.check(9)  # the early 3 letters have left the window: 9 of 20


def test_a_share_of_one_turns_it_off() -> None:
    limit = DlqLimit(max_share=1.0, window=10, min_messages=1)
    limit.consumed(10)
    limit.check(10)
