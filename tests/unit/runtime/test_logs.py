"""Tracebacks in the logs never show local variables (they hold comments, edited text, keys)."""

from __future__ import annotations

import os
import sys

import pytest
import structlog

from feedback.cli import app
from runtime.logs import configure_logging, console_renderer

PII = "jane.doe@example.com"


def fail_with_pii_in_locals() -> None:
    comment = f"write to me at {PII}"  # noqa: F841 (a local variable a rich traceback would print)
    raise RuntimeError("the handler failed")


def test_console_renderer_prints_no_locals_even_given_raw_exc_info() -> None:
    try:
        fail_with_pii_in_locals()
    except RuntimeError:
        exc_info = sys.exc_info()
    line = console_renderer()(None, "error", {"event": "boom", "exc_info": exc_info})
    assert "the handler failed" in str(line)
    assert PII not in str(line)


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_logged_exceptions_carry_no_locals(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(log_format, "info")
    try:
        fail_with_pii_in_locals()
    except RuntimeError:
        structlog.get_logger("test").exception("collector.unhandled", route="/v1/events")
    err = capsys.readouterr().err
    assert "the handler failed" in err
    assert PII not in err
    configure_logging("console", os.environ.get("FEEDBACK_TEST_LOG_LEVEL", "warning"))


def test_cli_crashes_do_not_print_locals() -> None:
    assert app.pretty_exceptions_show_locals is False
