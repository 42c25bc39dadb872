"""Tests for acctpipe.webhooks: events, filters, signing, outbox, store, worker, CLI."""
