"""Small pieces of the wording every error message shares."""

from __future__ import annotations


def article(word: str) -> str:
    """``a secret``, ``an admin``: the word with its indefinite article."""
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"
