"""Tests for acctpipe.suppress: normalisation, the store, its change log, CSV, the CLI."""
