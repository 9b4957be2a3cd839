"""Run ``feedback`` commands as subprocesses, as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

FEEDBACK = str(Path(sys.executable).with_name("feedback"))


def feedback_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACK_")}
    env.update(FEEDBACK_LOG_FORMAT="json", FEEDBACK_LOG_LEVEL="warning")
    env.update(overrides)
    return env


def run_feedback(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FEEDBACK, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def query_json(sql: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    result = run_feedback("query", "--format", "json", sql, env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def start_feedback(*args: str, env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([FEEDBACK, *args], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


def terminate(process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout)
