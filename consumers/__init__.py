"""Consumer workers: Kafka → decode → dedupe → join → ClickHouse, offsets committed after the write."""
