"""The durable spool: a file state machine, so nothing accepted is ever lost.

* :mod:`~mta.spool.durable` — the spool's states and moves (fsync + rename);
* :mod:`~mta.spool.commit` — group commit: many accepts, one directory sync.
"""
