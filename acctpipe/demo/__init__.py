"""``acctpipe demo``: the whole loop on loopback, narrated, in under a minute.

* :mod:`~acctpipe.demo.loop` — the demo from start to summary;
* :mod:`~acctpipe.demo.setup` — data directory, certificate, DKIM key, config;
* :mod:`~acctpipe.demo.campaign` — recipients, messages, injection over SMTP;
* :mod:`~acctpipe.demo.receiver` — a CRM stand-in that checks webhook signatures;
* :mod:`~acctpipe.demo.watch` — narration as it happens;
* :mod:`~acctpipe.demo.summary` — the closing tables.
"""
