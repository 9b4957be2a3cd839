"""Operator tools, apart from the hot path: replay a slice of a topic, rejoin late traces, read
and redrive the DLQ, and where a slice starts and ends. They reuse the worker's chain and store
(``consumers``) on an operator's demand; the collector and the workers never import them."""
