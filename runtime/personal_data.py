"""The tables that hold personal data, and how to find one user's rows in each: the one place that
erasure (``feedback forget``), the worker's erased-user filter and retention (TTL) read.

Adding a table with personal data is one line in ``PERSONAL_TABLES``: name it, say which of its
columns link a row to a user (``user_match``), to a conversation or to a response (trace), what
``forget`` reports it removed, and what time its retention counts from. Views and aggregate
projections over these tables (``events``, ``traces``, ``ratings_current``, ``quality_hourly``,
``reasons_hourly``, ``thumbs_hourly``, ``responses_hourly``, ``response_signals``, ``response_scores``,
``quality_scores_hourly``) hold no rows of their own: removing the rows fixes them (docs/contract.md
§7, "Privacy").

A user's rows (tenant T, user U) are:

- every row that names U (``user_match``: ``user_id``, or the rater of an opinion);
- every row of U's conversations: the conversations any row names U in (an anonymous or session
  signal in U's conversation is U's too; a browser's ``anonymous_id`` alone is no person, so the
  same browser's signals in other conversations are not U's);
- every row about a response (``trace_id``) of those conversations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PersonalTable:
    """A table with personal data. The SQL fragments read the table's own columns."""

    name: str
    # what ``forget`` reports: a label and how it counts the rows it removes (one event per
    # event_id, whatever its versions and cancel rows in the signed log)
    label: str
    counted: str
    # a row naming the user; ``{user}`` is the quoted user id. Empty: no row names one.
    user_match: str = ""
    conversation_column: str | None = None
    trace_column: str | None = None
    # the time a row's retention counts from (FEEDBACK_RETENTION_DAYS): a DateTime64 column. Rows
    # of one signed-log version share it, so a version and its cancel row expire together.
    kept_from: str = "received_at"
    # a column holding an id computed from a response's trace id: ``{tenant}`` and ``{trace}`` in
    # the SQL that computes it (the review items of an erased response, which name no trace)
    item_column: str | None = None
    item_of_trace: str = ""

    def user_sql(self, user: str) -> str | None:
        return self.user_match.format(user=user) if self.user_match else None


# A response's id in the eval export and in review queues (annotation.candidates.item_id_of,
# exports.rows.stable_id("eval", tenant, trace), in SQL; a test keeps the two alike).
EVAL_ITEM_ID = "substring(lower(hex(SHA256(concat('eval', char(31), {tenant}, char(31), {trace})))), 1, 32)"

PERSONAL_TABLES: tuple[PersonalTable, ...] = (
    PersonalTable(
        "events_log", "events", "uniqExact(event_id)", "user_id = {user}", "conversation_id", "trace_id", "received_at"
    ),
    PersonalTable(
        "traces_log", "traces", "uniqExact(trace_id)", "user_id = {user}", "conversation_id", "trace_id", "received_at"
    ),
    # Reviewers' labels (annotator is staff, not a user) on the user's responses: their notes may
    # quote them. Before the queue: a label's item is found from the erased trace itself.
    PersonalTable(
        "annotations_log",
        "annotations",
        "count()",
        item_column="item_id",
        item_of_trace=EVAL_ITEM_ID,
    ),
    PersonalTable(
        "annotation_queue_log", "queued", "uniqExact(queue, item_id)", "", "conversation_id", "trace_id", "added_at"
    ),
    PersonalTable(
        "opinions_log",
        "opinions",
        "uniqExact(message_id, rater_kind, rater, kind)",
        "rater_kind = 'user' AND rater = {user}",
        "conversation_id",
        "trace_id",
        "ts",  # the opinion's event time: at most 30 days before it was received
    ),
)


def personal_table(name: str) -> PersonalTable:
    for table in PERSONAL_TABLES:
        if table.name == name:
            return table
    raise KeyError(name)


# What the pipeline keeps of an erasure so that nothing brings the user back (sql/0040_erasures.sql):
# ``erased_ids`` rows (tenant_id, kind, id), kind one of these.
ERASED_KINDS = ("user", "conversation", "trace")
ERASED_IDS = "erased_ids"


def erased_condition(database: str, user: str, conversation: str, trace: str) -> str:
    """SQL true for a row (of a staged batch, or of a table) that belongs to an erased user: the
    arguments are the row's expressions for its user id, conversation id and trace id (NULLs
    allowed). Reads ``erased_ids`` whole: it holds a few ids per erasure."""
    erased = f"(SELECT tenant_id, kind, id FROM {database}.{ERASED_IDS})"
    return (
        f"((tenant_id, 'user', ifNull({user}, '')) IN {erased} "
        f"OR (tenant_id, 'conversation', ifNull({conversation}, '')) IN {erased} "
        f"OR (tenant_id, 'trace', ifNull({trace}, '')) IN {erased})"
    )
