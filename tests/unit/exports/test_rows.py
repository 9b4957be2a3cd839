from __future__ import annotations

from exports.rows import (
    CONFLICT,
    EDIT_EQUALS_OUTPUT,
    NO_INPUT,
    NO_OUTPUT,
    NO_TRACE,
    PROMPTS_DIFFER,
    SIDES_EQUAL,
    Row,
    Skip,
    dpo_rows,
    eval_rows,
    sft_rows,
    stable_id,
)
from tests.unit.exports.factory import response


def test_eval_takes_responses_with_a_negative_signal_only() -> None:
    built = list(
        eval_rows(
            [
                response("up", thumbs_up=1),
                response("down", thumbs_down=1, reasons=["incorrect"]),
                response("low", ratings=[2]),
                response("fine", ratings=[3]),
                response("edited", edits=1, edited_text="better"),
                response("regen", regenerates=1),
                response("rephrased", rephrases=1),
                response("copied", copies=1),
                response("no-out", thumbs_down=1, output_text=None),
                response("no-in", thumbs_down=1, input_text=""),
                response("no-trace", thumbs_down=1, has_trace=False, input_text=None, output_text=None),
            ]
        )
    )
    rows = [b.data for b in built if isinstance(b, Row)]
    assert [r["lineage"]["trace_id"] for r in rows] == ["down", "low", "edited", "regen", "rephrased"]
    assert [b.reason for b in built if isinstance(b, Skip)] == [NO_OUTPUT, NO_INPUT, NO_TRACE]
    assert rows[2]["expected"] == "better"
    assert rows[0]["id"] == stable_id("eval", "acme", "down")


def test_stable_ids_depend_on_tenant_and_trace_only() -> None:
    assert stable_id("eval", "acme", "t1") == stable_id("eval", "acme", "t1")
    assert stable_id("eval", "acme", "t1") != stable_id("eval", "globex", "t1")
    assert len(stable_id("x")) == 32


def test_sft_edit_wins_and_rated_up_needs_no_negative_signal() -> None:
    built = list(
        sft_rows(
            [
                response("edited", edits=1, edited_text="final", thumbs_up=1, output_text=None),
                response("liked", thumbs_up=1),
                response("rated", ratings=[4]),
                response("mixed", thumbs_up=1, regenerates=1),
                response("meh", ratings=[3]),
            ]
        )
    )
    rows = [b.data for b in built if isinstance(b, Row)]
    assert [(r["metadata"]["trace_id"], r["metadata"]["source"], r["messages"][1]["content"]) for r in rows] == [
        ("edited", "edit", "final"),
        ("liked", "rated_up", "answer liked"),
        ("rated", "rated_up", "answer rated"),
    ]
    bare = [b.data for b in sft_rows([response("liked", thumbs_up=1)], metadata=False) if isinstance(b, Row)]
    assert bare == [
        {"messages": [{"role": "user", "content": "question"}, {"role": "assistant", "content": "answer liked"}]}
    ]


def test_dpo_pairs_each_pair_once_within_a_turn() -> None:
    turn = [response("a", thumbs_up=1), response("b", thumbs_down=1), response("c", thumbs_down=1)]
    other_turn = [response("d", thumbs_down=1, turn_key="turn-2")]
    built = list(dpo_rows([*turn, *other_turn]))
    rows = [b for b in built if isinstance(b, Row)]
    assert rows == built  # pairs only, no skips
    pairs = [(b.data["metadata"]["chosen"]["trace_id"], b.data["metadata"]["rejected"]["trace_id"]) for b in rows]
    assert pairs == [("a", "b"), ("a", "c")]  # b and c are both down: no pair; d is another turn


def test_dpo_skips_with_reasons() -> None:
    built = list(
        dpo_rows(
            [
                response("e", edits=1, edited_text="answer e"),  # the edit changed nothing
                response("f1", turn_key="f", thumbs_up=1, ratings=[1]),
                response("f2", turn_key="f", thumbs_down=1, ratings=[5]),
                response("g1", turn_key="g", thumbs_up=1),
                response("g2", turn_key="g", thumbs_down=1, input_text="another question"),
                response("h1", turn_key="h", thumbs_up=1, output_text="same"),
                response("h2", turn_key="h", thumbs_down=1, output_text="same"),
                response("i1", turn_key="i", thumbs_up=1),
                response("i2", turn_key="i", thumbs_down=1, output_text=None),
            ]
        )
    )
    assert all(isinstance(b, Skip) for b in built)
    assert [b.reason for b in built if isinstance(b, Skip)] == [
        EDIT_EQUALS_OUTPUT,
        CONFLICT,
        PROMPTS_DIFFER,
        SIDES_EQUAL,
        NO_OUTPUT,
    ]


def test_responses_without_a_trace_never_pair_with_each_other() -> None:
    lost = dict(has_trace=False, turn_key="", input_text=None, output_text=None)
    built = list(dpo_rows([response("x", thumbs_up=1, **lost), response("y", thumbs_down=1, **lost)]))
    assert [b.reason for b in built if isinstance(b, Skip)] == [NO_TRACE, NO_TRACE]


def test_eval_rows_carry_the_reviewers_labels() -> None:
    label = {"queue": "weekly", "annotator": "ann", "label": "hallucinated", "score": 1.0, "reasons": [],
             "note": None, "time": "2026-11-29T11:00:00.000Z"}  # fmt: skip
    (labelled,) = [r for r in eval_rows([response("t1", thumbs_down=1, annotations=[label])]) if isinstance(r, Row)]
    assert labelled.data["annotations"] == [label]
    (plain,) = [r for r in eval_rows([response("t2", thumbs_down=1)]) if isinstance(r, Row)]
    assert plain.data["annotations"] == []
