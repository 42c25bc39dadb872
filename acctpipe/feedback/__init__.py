"""The feedback loop at run time: events from the store in, decisions to the SQL store and
the running MTA out (see :mod:`acctpipe.policy` for the decisions themselves)."""
