"""Tests for acctpipe.db: engines, schema and migrations on SQLite and PostgreSQL."""
