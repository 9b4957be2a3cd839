"""Benchmarks of the pipeline (``python -m bench``, ``make bench``): real broker, real chdb.

Each stage has its module: ``collector_bench`` (HTTP → Kafka ack), ``worker_bench``
(Kafka → ClickHouse), ``freshness_bench`` (202 → queryable); ``report`` prints the table
and writes ``bench/results.json``.
"""
