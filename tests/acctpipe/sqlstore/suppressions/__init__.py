"""Tests for acctpipe.sqlstore.suppressions: normalisation, store, change log, CSV, CLI."""
