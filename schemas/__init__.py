"""The shared contract: Avro schemas (every published version), pydantic models and the Avro serde."""
