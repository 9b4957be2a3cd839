from __future__ import annotations

from runtime.migrations import Migration, bundled_migrations


def test_migrations_are_numbered_and_shipped() -> None:
    versions = [m.version for m in bundled_migrations()]
    assert versions == sorted(versions)
    assert versions[0] == 1
    assert len(set(versions)) == len(versions)


def test_statements_split_at_line_ends_only() -> None:
    migration = Migration(
        1,
        "x",
        "-- a comment; with a semicolon\nCREATE TABLE {database}.t (a String COMMENT 'x; y');\nSELECT 1;\n",
    )
    assert migration.statements("db") == ["CREATE TABLE db.t (a String COMMENT 'x; y')", "SELECT 1"]
