"""The feedback loop: derived signals, the quality score, regression alerts and the dashboard's
figures. Reads what the workers wrote (ClickHouse) and talks to Kafka like any client; never
imports the hot path."""
