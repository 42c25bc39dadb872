"""The package list, with one mapping pyproject.toml cannot express beside a find.

The Alembic scripts live in the top-level ``migrations/`` folder (DESIGN.md) and are
installed inside the package as ``acctpipe.migrations``, so an installed acctpipe
migrates its own database and nothing named ``migrations`` lands at the top of
site-packages. ``[tool.setuptools.package-dir]`` can map it, but
``[tool.setuptools.packages.find]`` only finds packages on disk under their own
names, and pyproject.toml allows either a find or a list, not both; here the two
are joined. Works for a wheel and for ``pip install -e`` (setuptools' editable
finder maps ``acctpipe.migrations`` to ``migrations/``).
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["acctpipe*", "classifiers*", "mta*"]),
        "acctpipe.migrations",
        "acctpipe.migrations.versions",
    ],
    package_dir={"acctpipe.migrations": "migrations"},
)
