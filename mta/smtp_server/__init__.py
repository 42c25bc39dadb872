"""The SMTP server side: how applications and returned mail reach the MTA.

* :mod:`~mta.smtp_server.listener` — the listeners a config declares, started and stopped;
* :mod:`~mta.smtp_server.session` — one inbound connection and its connection-level policy;
* :mod:`~mta.smtp_server.handler` — what we answer to EHLO, AUTH, MAIL, RCPT and DATA;
* :mod:`~mta.smtp_server.data` — reading DATA in big pieces;
* :mod:`~mta.smtp_server.decisions` — parameters, trace and headers, decided without a socket;
* :mod:`~mta.smtp_server.relay` — the ``<source>`` rules: who may send through us;
* :mod:`~mta.smtp_server.authlimit` — failed AUTH attempts: growing delays, then a lockout.
"""
