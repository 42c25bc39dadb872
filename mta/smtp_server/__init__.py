"""The SMTP server side: how applications and returned mail reach the MTA.

The protocol is a sans-IO core of our own, wrapped by a thin asyncio transport:

* :mod:`~mta.smtp_server.protocol` — the core: bytes in, events out; replies in, bytes out;
* :mod:`~mta.smtp_server.events` — the events the core gives (nouns: ``MailFrom``, ``RcptTo``…);
* :mod:`~mta.smtp_server.states` — the session states, which command each allows, limits, replies;
* :mod:`~mta.smtp_server.grammar` — command lines, paths and parameters beside their ABNF;
* :mod:`~mta.smtp_server.data` — reading DATA in big pieces (sans-IO);
* :mod:`~mta.smtp_server.session` — one connection: the asyncio transport and its connection policy;
* :mod:`~mta.smtp_server.listener` — the listeners a config declares, started and stopped;
* :mod:`~mta.smtp_server.handler` — what we answer to EHLO, AUTH, MAIL, RCPT and DATA;
* :mod:`~mta.smtp_server.decisions` — parameters, trace and headers, decided without a socket;
* :mod:`~mta.smtp_server.relay` — the ``<source>`` rules: who may send through us;
* :mod:`~mta.smtp_server.authlimit` — failed AUTH attempts: growing delays, then a lockout.
"""
