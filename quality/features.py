"""The quality score's inputs: columns of `response_signals`, in one place. The view
`response_scores` (sql/0022_response_scores.sql) multiplies the same names by the stored
coefficients; a test holds the two together."""

from __future__ import annotations

FEATURES = ("copied", "regenerated", "rephrased", "abandoned", "edited", "log_dwell_s", "tool_failed")
