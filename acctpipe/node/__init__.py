"""The running acctpipe node: one process, two shapes.

* :mod:`~acctpipe.node.api` — :class:`~acctpipe.node.api.Node`: API, webhook worker and
  (optionally) the tailer — what ``acctpipe serve`` runs;
* :mod:`~acctpipe.node.full` — :class:`~acctpipe.node.full.Runner`: the embedded MTA plus
  a node plus the feedback loop — what ``acctpipe run`` runs.
"""
