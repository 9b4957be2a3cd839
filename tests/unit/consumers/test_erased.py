"""The slow path's erased-user check (the fast path's is the same condition, in SQL)."""

from __future__ import annotations

from consumers.erased import is_erased, stage_condition

ERASED = {("acme", "user", "u-1"), ("acme", "conversation", "conv-1"), ("acme", "trace", "tr-1")}


def test_a_record_is_erased_by_its_user_its_conversation_or_its_response() -> None:
    assert is_erased({"tenant_id": "acme", "user_id": "u-1", "conversation_id": "c"}, ERASED)
    assert is_erased({"tenant_id": "acme", "user_id": None, "conversation_id": "conv-1"}, ERASED)
    assert is_erased({"tenant_id": "acme", "conversation_id": "c", "trace_id": "tr-1"}, ERASED)
    assert not is_erased({"tenant_id": "acme", "user_id": "u-2", "conversation_id": "c", "trace_id": None}, ERASED)
    # the same ids in another tenant are another person's
    assert not is_erased({"tenant_id": "globex", "user_id": "u-1", "conversation_id": "conv-1"}, ERASED)


def test_the_stage_condition_reads_the_databases_erased_ids() -> None:
    condition = stage_condition("feedback")
    assert "feedback.erased_ids" in condition
    assert "ifNull(user_id, '')" in condition
