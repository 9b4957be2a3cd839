"""The single-node migrations as cluster DDL (``FEEDBACK_CLICKHOUSE_CLUSTER``), by one generic rewrite.

Each statement of ``sql/`` is rewritten by its kind, so a new migration needs nothing of its own:

* ``CREATE TABLE t`` of the MergeTree family becomes ``t_local`` ``ON CLUSTER`` with the
  Replicated engine (Keeper path ``/clickhouse/tables/{shard}/<database>/t_local``, replica
  ``{replica}``: the standard macros of each server's config) and ``t`` ``ON CLUSTER``, a
  Distributed table over ``t_local`` with the contract's name, so the worker and every query read
  and write the names they always did. ``non_replicated_deduplication_window`` becomes
  ``replicated_deduplication_window``: a retried insert is still stored once.
* Sharding key: a table with ``tenant_id`` and ``conversation_id`` is sharded by the bytes of the
  Kafka message key (``tenant/conversation``, producers/app.py ``message_key``), so one
  conversation — its events, its traces, its opinions — lives on one shard, as it lives in one
  partition and one worker. Any other table by its whole sorting key (rows that a Replacing or
  Collapsing engine merges together always meet on one shard).
* ``CREATE [OR REPLACE] VIEW``, ``DICTIONARY``, ``FUNCTION`` and other engines: the same text
  ``ON CLUSTER``; views read the Distributed names, so they see every shard.
* ``CREATE MATERIALIZED VIEW … TO t AS SELECT … FROM s``: ``ON CLUSTER``, fired by inserts into
  ``s_local`` and writing to ``t_local``: each shard derives its own rows into its own target. (From
  a source that is not sharded, it writes through ``t``, the Distributed table, by ``t``'s key.)
* ``ALTER TABLE t``: every command on ``t_local``; the column commands also on ``t`` (a
  Distributed table has columns, not projections, indexes or data of its own).
* ``DELETE FROM``, ``TRUNCATE``, ``OPTIMIZE`` of ``t``: on ``t_local``, ``ON CLUSTER``.
  ``DROP TABLE t``: the Distributed table, then the local one.
* ``INSERT … SELECT`` (backfills): unchanged, run once, through the Distributed tables.

Anything else is refused with the statement named, rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from runtime.errors import ConfigError

LOCAL_SUFFIX = "_local"
# Exactly the Kafka message key's bytes (producers/app.py message_key): tenant "/" conversation.
CONVERSATION_SHARDING = "cityHash64(concat(tenant_id, '/', conversation_id))"
CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_.{}-]+$")

_NAME = r"(?:`[^`]+`|[A-Za-z_]\w*)(?:\.(?:`[^`]+`|[A-Za-z_]\w*))?"
_CREATE_TABLE = re.compile(rf"^CREATE\s+TABLE\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})\s*", re.I | re.S)
_CREATE_MV = re.compile(
    rf"^CREATE\s+MATERIALIZED\s+VIEW\s+(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})\s*", re.I | re.S
)
_CREATE_OTHER = re.compile(
    rf"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:VIEW|DICTIONARY|FUNCTION)\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})",
    re.I | re.S,
)
_ALTER = re.compile(rf"^ALTER\s+TABLE\s+(?P<name>{_NAME})\s+", re.I | re.S)
_ON_LOCAL = re.compile(
    rf"^(?P<head>(?:DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?(?:\s+IF\s+EXISTS)?|OPTIMIZE\s+TABLE)\s+)(?P<name>{_NAME})",
    re.I | re.S,
)
_DROP_TABLE = re.compile(rf"^DROP\s+TABLE\s+(?P<ie>IF\s+EXISTS\s+)?(?P<name>{_NAME})(?P<tail>.*)$", re.I | re.S)
_DROP_OTHER = re.compile(rf"^DROP\s+(?:VIEW|DICTIONARY|FUNCTION)\s+(?:IF\s+EXISTS\s+)?(?P<name>{_NAME})", re.I | re.S)
_INSERT = re.compile(r"^INSERT\s+INTO\s", re.I)
_AS_TABLE = re.compile(rf"^AS\s+(?P<source>{_NAME})\s+", re.I | re.S)
_EXCHANGE = re.compile(rf"^EXCHANGE\s+TABLES\s+(?P<a>{_NAME})\s+AND\s+(?P<b>{_NAME})\s*$", re.I | re.S)
_ENGINE = re.compile(r"^ENGINE\s*=\s*(?P<engine>\w+)\s*", re.I)
_ORDER_BY = re.compile(r"\bORDER\s+BY\s+", re.I)
_CLAUSE = re.compile(r"\b(?:PRIMARY\s+KEY|PARTITION\s+BY|SAMPLE\s+BY|TTL|SETTINGS|COMMENT)\b", re.I)
_TO = re.compile(rf"^TO\s+(?P<name>{_NAME})\s*", re.I)
_FROM = re.compile(rf"\bFROM\s+(?P<name>{_NAME})", re.I)
_AS_SELECT = re.compile(r"\bAS\s+(?:SELECT|WITH)\b", re.I)
_COLUMN_COMMAND = re.compile(r"^(?:ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.I)
_NOT_A_COLUMN = re.compile(r"^(?:INDEX|PROJECTION|CONSTRAINT)\b", re.I)
_DEDUP_WINDOW = re.compile(r"\bnon_replicated_deduplication_window\b")


class ClusterDDLError(ConfigError):
    """A migration statement that has no cluster form here (the statement is named)."""


def rows_target(database: str, table: str, cluster: str | None) -> str:
    """Where a statement on a table's stored rows (a mutation, a TTL) goes: the table itself on one
    server; on a cluster, every shard's local table (a Distributed table holds no rows)."""
    if cluster is None:
        return f"{database}.{table}"
    return f"{database}.{table}{LOCAL_SUFFIX} ON CLUSTER '{check_cluster_name(cluster)}'"


def check_cluster_name(cluster: str) -> str:
    if not CLUSTER_NAME.match(cluster):
        raise ConfigError(
            f"FEEDBACK_CLICKHOUSE_CLUSTER: {cluster!r} is not a cluster name of remote_servers "
            "(letters, digits, _ . - and {macros} only)"
        )
    return cluster


@dataclass
class ClusterDDL:
    """Rewrites statements in migration order; remembers which tables it made sharded, and how."""

    cluster: str
    database: str
    sharding: dict[str, str] = field(default_factory=dict)  # table -> its sharding expression

    @property
    def sharded(self) -> set[str]:
        return set(self.sharding)

    def __post_init__(self) -> None:
        check_cluster_name(self.cluster)

    @property
    def on_cluster(self) -> str:
        return f"ON CLUSTER '{self.cluster}'"

    def rewrite(self, statement: str) -> list[str]:
        """The cluster statements that do what ``statement`` does on one server, in order."""
        text = statement.strip()
        if match := _CREATE_TABLE.match(text):
            return self._create_table(text, match)
        if match := _CREATE_MV.match(text):
            return [self._materialized_view(text, match)]
        if match := _CREATE_OTHER.match(text):
            return [self._after(text, match.end("name"))]
        if match := _ALTER.match(text):
            return self._alter(text, match)
        if match := _ON_LOCAL.match(text):
            name = self._qualified(match.group("name"))
            target = self._local(name) if name in self.sharded else name
            return [f"{match.group('head')}{target} {self.on_cluster}{text[match.end('name') :]}"]
        if match := _DROP_TABLE.match(text):
            return self._drop_table(match)
        if match := _DROP_OTHER.match(text):
            return [self._after(text, match.end("name"))]
        if match := _EXCHANGE.match(text):
            return [self._exchange(match)]
        if _INSERT.match(text):
            return [text]
        raise ClusterDDLError(f"no cluster form for the statement {_head(text)!r}: {_SUPPORTED}")

    # CREATE TABLE ------------------------------------------------------------------------------

    def _create_table(self, text: str, match: re.Match[str]) -> list[str]:
        name = self._qualified(match.group("name"))
        rest = text[match.end() :]
        if as_table := _AS_TABLE.match(rest):
            return self._create_table_as(name, match.group("ine") or "", as_table, rest[as_table.end() :])
        if not rest.startswith("("):
            raise ClusterDDLError(f"{name}: only CREATE TABLE with a column list or AS a table has a cluster form")
        close = _closing(rest, 0)
        columns, tail = rest[1:close], rest[close + 1 :].strip()
        engine = _ENGINE.match(tail)
        if engine is None:
            raise ClusterDDLError(f"{name}: name the ENGINE, the cluster form depends on it")
        kind = engine.group("engine")
        if kind.startswith("Replicated") or kind == "Distributed":
            raise ClusterDDLError(f"{name}: already cluster DDL (ENGINE = {kind}); migrations are single-node")
        head = f"CREATE TABLE {match.group('ine') or ''}"
        if not kind.endswith("MergeTree"):
            return [f"{head}{name} {self.on_cluster}\n{rest}"]
        after = tail[engine.end() :]
        if _AS_SELECT.search(after):
            raise ClusterDDLError(f"{name}: CREATE TABLE … AS SELECT would fill every shard: create, then INSERT")
        local = self._local(name)
        database, table = _split(local)
        engine_clause = _replicated(local, kind, after)
        self.sharding[name] = sharding_key(columns, after, name)
        return [
            f"{head}{local} {self.on_cluster}\n({columns})\n{engine_clause}",
            f"{head}{name} {self.on_cluster}\nAS {local}\n"
            f"ENGINE = Distributed('{self.cluster}', '{database}', '{table}', {self.sharding[name]})",
        ]

    def _create_table_as(self, name: str, ine: str, as_table: re.Match[str], tail: str) -> list[str]:
        """``CREATE TABLE t AS s ENGINE = …MergeTree …``: the columns (indexes, projections) of a
        sharded ``s``: ``t_local`` as ``s_local`` with the Replicated engine, ``t`` Distributed
        alike, sharded as ``s``."""
        source = self._qualified(as_table.group("source"))
        engine = _ENGINE.match(tail)
        if source not in self.sharded or engine is None or not engine.group("engine").endswith("MergeTree"):
            raise ClusterDDLError(f"{name}: CREATE TABLE … AS has a cluster form for a sharded MergeTree table only")
        kind, after = engine.group("engine"), tail[engine.end() :]
        local = self._local(name)
        database, table = _split(local)
        engine_clause = _replicated(local, kind, after)
        self.sharding[name] = self.sharding[source]
        head = f"CREATE TABLE {ine}"
        return [
            f"{head}{local} {self.on_cluster}\nAS {self._local(source)}\n{engine_clause}",
            f"{head}{name} {self.on_cluster}\nAS {local}\n"
            f"ENGINE = Distributed('{self.cluster}', '{database}', '{table}', {self.sharding[name]})",
        ]

    def _exchange(self, match: re.Match[str]) -> str:
        """Two sharded tables swap their local tables (each Distributed table reads its local name,
        which now holds the other's rows); anything else swaps as it is."""
        a, b = self._qualified(match.group("a")), self._qualified(match.group("b"))
        if a in self.sharded and b in self.sharded:
            return f"EXCHANGE TABLES {self._local(a)} AND {self._local(b)} {self.on_cluster}"
        if a in self.sharded or b in self.sharded:
            raise ClusterDDLError(f"EXCHANGE TABLES {a} AND {b}: one is sharded, the other is not")
        return f"EXCHANGE TABLES {a} AND {b} {self.on_cluster}"

    # CREATE MATERIALIZED VIEW ------------------------------------------------------------------

    def _materialized_view(self, text: str, match: re.Match[str]) -> str:
        name = self._qualified(match.group("name"))
        rest = text[match.end() :]
        to = _TO.match(rest)
        if to is None:
            raise ClusterDDLError(
                f"{name}: a materialized view needs a TO table on a cluster (its own table would not be sharded)"
            )
        target = self._qualified(to.group("name"))
        body = rest[to.end() :]
        source = _FROM.search(body)
        if source is not None and self._qualified(source.group("name")) in self.sharded:
            # fired on each shard by its own rows, it writes that shard's target rows: both local
            local_source = self._local(self._qualified(source.group("name")))
            body = f"{body[: source.start('name')]}{local_source}{body[source.end('name') :]}"
            target = self._local(target) if target in self.sharded else target
        # else fired where an insert arrives: through the target's Distributed table, by its key
        return f"{text[: match.end('name')]} {self.on_cluster}\nTO {target}\n{body}"

    # ALTER TABLE -------------------------------------------------------------------------------

    def _alter(self, text: str, match: re.Match[str]) -> list[str]:
        name = self._qualified(match.group("name"))
        commands = text[match.end() :]
        if name not in self.sharded:
            return [f"ALTER TABLE {name} {self.on_cluster}\n{commands}"]
        parts = split_top_level(commands)
        local = _DEDUP_WINDOW.sub("replicated_deduplication_window", ",\n".join(parts))
        statements = [f"ALTER TABLE {self._local(name)} {self.on_cluster}\n{local}"]
        columns = [part for part in parts if _COLUMN_COMMAND.match(part)]
        if columns:
            statements.append(f"ALTER TABLE {name} {self.on_cluster}\n" + ",\n".join(columns))
        return statements

    # DROP TABLE --------------------------------------------------------------------------------

    def _drop_table(self, match: re.Match[str]) -> list[str]:
        name = self._qualified(match.group("name"))
        head, tail = f"DROP TABLE {match.group('ie') or ''}", match.group("tail")
        if name not in self.sharded:
            return [f"{head}{name} {self.on_cluster}{tail}"]
        del self.sharding[name]
        return [f"{head}{name} {self.on_cluster}{tail}", f"{head}{self._local(name)} {self.on_cluster}{tail}"]

    # names -------------------------------------------------------------------------------------

    def _after(self, text: str, position: int) -> str:
        return f"{text[:position]} {self.on_cluster}{text[position:]}"

    def _qualified(self, name: str) -> str:
        return name if "." in name else f"{self.database}.{name}"

    def _local(self, name: str) -> str:
        database, table = _split(name)
        return f"{database}.{table}{LOCAL_SUFFIX}"


_SUPPORTED = (
    "CREATE TABLE (columns, or AS a sharded table)/VIEW/MATERIALIZED VIEW (with TO)/DICTIONARY/FUNCTION, "
    "ALTER TABLE, EXCHANGE TABLES, INSERT, "
    "DELETE FROM, TRUNCATE, OPTIMIZE, DROP TABLE/VIEW/DICTIONARY/FUNCTION"
)


def _replicated(local: str, kind: str, after: str) -> str:
    """The Replicated form of ``ENGINE = <kind>`` for table ``local``, ``after`` the engine's name
    (its arguments, then ORDER BY and the other clauses): Keeper path by shard, replica by macro."""
    args = ""
    if after.startswith("("):
        end = _closing(after, 0)
        args, after = after[1:end].strip(), after[end + 1 :]
    database, table = _split(local)
    replicated = f"'/clickhouse/tables/{{shard}}/{database}/{table}', '{{replica}}'" + (f", {args}" if args else "")
    return f"ENGINE = Replicated{kind}({replicated}){_DEDUP_WINDOW.sub('replicated_deduplication_window', after)}"


def sharding_key(columns: str, after_engine: str, table: str) -> str:
    """The Distributed sharding expression of a table (see the module's docstring)."""
    names = {
        part.split(None, 1)[0].strip("`") for part in split_top_level(columns) if part and not _NOT_A_COLUMN.match(part)
    }
    if {"tenant_id", "conversation_id"} <= names:
        return CONVERSATION_SHARDING
    order = _ORDER_BY.search(after_engine)
    if order is None:
        raise ClusterDDLError(f"{table}: without tenant_id and conversation_id, shard by ORDER BY: name one")
    key = after_engine[order.end() :].lstrip()
    if key.startswith("("):
        key = key[1 : _closing(key, 0)]
    else:
        clause = _CLAUSE.search(key)
        key = key[: clause.start()] if clause else key
    key = key.strip()
    if not key or key.lower() == "tuple()":
        raise ClusterDDLError(f"{table}: ORDER BY tuple() gives no sharding key")
    return f"cityHash64({key})"


def split_top_level(text: str) -> list[str]:
    """``text`` split at the commas outside brackets, quotes and comments; parts stripped."""
    parts, start = [], 0
    for index, depth in _scan(text):
        if depth == 0 and text[index] == ",":
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def _closing(text: str, opening: int) -> int:
    """The index of the bracket that closes the one at ``opening``."""
    for index, depth in _scan(text, opening):
        if depth == 0 and index > opening and text[index] in ")]":
            return index
    raise ClusterDDLError(f"unbalanced brackets in {_head(text)!r}")


def _scan(text: str, start: int = 0) -> Iterator[tuple[int, int]]:
    """(index, bracket depth) of each character outside string literals, quoted names and comments;
    an opening bracket is reported at the depth outside it, a closing one at the depth it returns to."""
    depth, index, end = 0, start, len(text)
    while index < end:
        char = text[index]
        if char in "'\"`":
            index = _end_of_quoted(text, index)
            continue
        if text.startswith("--", index):
            newline = text.find("\n", index)
            index = end if newline < 0 else newline
            continue
        if text.startswith("/*", index):
            close = text.find("*/", index + 2)
            index = end if close < 0 else close + 2
            continue
        if char in "([":
            yield index, depth
            depth += 1
        elif char in ")]":
            depth -= 1
            yield index, depth
        else:
            yield index, depth
        index += 1


def _end_of_quoted(text: str, start: int) -> int:
    quote, index = text[start], start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
        elif text[index] == quote:
            if text.startswith(quote, index + 1):  # a doubled quote stands for itself
                index += 2
            else:
                return index + 1
        else:
            index += 1
    raise ClusterDDLError(f"unterminated {quote} in {_head(text)!r}")


def _split(name: str) -> tuple[str, str]:
    database, table = name.split(".", 1)
    return database.strip("`"), table.strip("`")


def _head(text: str) -> str:
    return " ".join(text.split())[:80]
