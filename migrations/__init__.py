"""Alembic migrations for the SQL store (see :mod:`acctpipe.sqlstore.migrate` to run them).

This folder is installed inside the package as ``acctpipe.migrations`` (setup.py
maps it, for a wheel and for an editable install), so an installed ``acctpipe`` can
migrate its own database on first use; nothing named ``migrations`` is installed
at the top of site-packages.
"""
