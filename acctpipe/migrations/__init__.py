"""Alembic migrations for the SQL store (see :mod:`acctpipe.sqlstore.migrate` to run them).

They live inside the package so an installed ``acctpipe`` can migrate its own
database on first use; Alembic finds them as ``acctpipe:migrations``.
"""
