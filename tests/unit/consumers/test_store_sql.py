from __future__ import annotations

from consumers.store import key_list, quote


def test_literals_escape_quotes_and_backslashes() -> None:
    assert quote("it's") == "'it\\'s'"
    assert quote("a\\'); DROP TABLE x; --") == "'a\\\\\\'); DROP TABLE x; --'"
    assert key_list([("acme", "t1"), ("acme", "t'2")]) == "(('acme','t1'),('acme','t\\'2'))"
