"""The browser SDK offers exactly the reason codes the collector accepts (one vocabulary, two languages)."""

from __future__ import annotations

import re
from pathlib import Path

from schemas.vocabulary import DOWN_REASONS, UP_REASONS

REASONS_TS = Path(__file__).resolve().parents[2] / "sdk" / "src" / "reasons.ts"


def _codes(direction: str) -> set[str]:
    source = REASONS_TS.read_text()
    block = re.search(rf"{direction}: \[(.*?)\]", source, re.DOTALL)
    assert block, f"no {direction} list in {REASONS_TS}"
    return set(re.findall(r'"([a-z_]+)"', block.group(1)))


def test_sdk_reason_codes_match_the_contract() -> None:
    assert _codes("up") == UP_REASONS
    assert _codes("down") == DOWN_REASONS
