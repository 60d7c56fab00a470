"""The Meilisearch adapter: client, index settings, documents, queries and the outbox-driven sync."""
