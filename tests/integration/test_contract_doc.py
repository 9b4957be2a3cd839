"""docs/contract.md is the users' reference: every command it names answers ``--help`` and every
table and column it names in §7 exists after the migrations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from typer.testing import CliRunner

from feedback.cli import app
from runtime.settings import Settings

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def _section(number: int) -> str:
    text = CONTRACT.read_text()
    start = text.index(f"## §{number} ")
    end = text.find("\n## §", start + 1)
    return text[start : end if end != -1 else None]


def _first_cells(section: str) -> list[str]:
    return [line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| `")]


def test_every_feedback_command_answers_help() -> None:
    commands = [cell.strip("`").split()[1:] for cell in _first_cells(_section(1)) if cell.startswith("`feedback ")]
    assert len(commands) >= 10
    runner = CliRunner()
    for words in commands:
        result = runner.invoke(app, [*words, "--help"])
        assert result.exit_code == 0, (words, result.output)
    for group, subcommands in (("dlq", ("list", "show", "redrive")), ("kafka", ("start", "stop", "status"))):
        for sub in subcommands:
            assert runner.invoke(app, [group, sub, "--help"]).exit_code == 0, (group, sub)


@pytest.mark.clickhouse
def test_every_table_and_column_exists_after_migrations(clickhouse: Client, base_settings: Settings) -> None:
    rows = [line for line in _section(7).splitlines() if line.startswith("| `")]
    assert rows, "no tables in §7"
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        table = cells[0].strip("`")
        columns = re.findall(r"`([a-z_0-9]+)`", cells[2])
        found = {
            name
            for (name,) in clickhouse.query(
                "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}",
                parameters={"db": base_settings.clickhouse_database, "t": table},
            ).result_rows
        }
        assert found, f"table {table} of docs/contract.md §7 does not exist"
        assert set(columns) <= found, f"{table}: missing {sorted(set(columns) - found)}"
