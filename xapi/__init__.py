"""xAPI adapter: vocabulary, statement builders, the outbox, LRS transport and ingest."""
