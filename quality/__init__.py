"""The feedback loop: derived signals, the quality score and regression alerts. Reads what the
workers wrote (ClickHouse) and talks to Kafka like any client; never imports the hot path."""
