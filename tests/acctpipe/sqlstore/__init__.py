"""Tests for acctpipe.sqlstore: engines, schema and migrations on SQLite and PostgreSQL."""
