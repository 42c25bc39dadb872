"""acctpipe: close the sender's loop from accounting files to suppressions and throttles."""

__all__ = ["__version__"]

__version__ = "0.1.0"
