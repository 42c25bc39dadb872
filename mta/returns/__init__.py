"""Returned mail: bounces and feedback-loop reports that reach the MTA, turned into records.

* :mod:`~mta.returns.intake` — classify a returned message and write its records;
* :mod:`~mta.returns.records` — PowerMTA's ``rb``, ``rs`` and ``f`` records for one message.
"""
