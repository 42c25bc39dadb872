"""The running MTA, in two layers.

* :mod:`~mta.node.runtime` — :class:`~mta.node.runtime.Mta`: config, spool, delivery
  engine and accounting files, started and stopped as one (no listening sockets);
* :mod:`~mta.node.process` — :class:`~mta.node.process.MtaServer`: the whole MTA
  process — the runtime plus SMTP listeners, pickup folders, returned mail and
  the management endpoint.
"""
