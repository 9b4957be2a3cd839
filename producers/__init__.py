"""The HTTP edge collector: validates feedback, encodes Avro and hands it to Kafka."""
