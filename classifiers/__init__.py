"""Pure classifiers: SMTP replies, DSNs, ARF reports → bounce category and class.

No I/O, no clocks, no globals (DESIGN.md). Nothing here imports ``mta`` or ``acctpipe``.
"""

__all__: list[str] = []
