"""Delivery: queues per (destination, virtual MTA), connections, throttles, retries.

* :mod:`~mta.delivery.engine` — the delivery engine's front door: queues, start/stop, control;
* :mod:`~mta.delivery.scheduler` — which queue gets a connection when;
* :mod:`~mta.delivery.connections` — an outbound connection's life, and a queue that cannot connect;
* :mod:`~mta.delivery.transfer` — one message on an open connection, and its outcome;
* :mod:`~mta.delivery.attempt` — one attempt's verdicts, records and outcomes, without I/O;
* :mod:`~mta.delivery.ledger` — every recipient accounted for, then the message settled;
* :mod:`~mta.delivery.settle` — the attempt's last step: the message leaves ``active/``;
* :mod:`~mta.delivery.queue` — one queue's state (sans-IO);
* :mod:`~mta.delivery.client` — the outbound SMTP connection (our own pipelining client);
* :mod:`~mta.delivery.routing` — where a domain's mail goes: routes, MX, Null MX;
* :mod:`~mta.delivery.pool` — choosing a virtual MTA from a pool;
* :mod:`~mta.delivery.throttle` — token buckets and warmup, computed, never slept;
* :mod:`~mta.delivery.prepare` — a message's last steps before the wire;
* :mod:`~mta.delivery.headers` — header surgery on raw bytes;
* :mod:`~mta.delivery.verp` — VERP return paths;
* :mod:`~mta.delivery.signing` — DKIM signatures (dkimpy).
"""
