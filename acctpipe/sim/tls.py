"""A throwaway TLS identity for STARTTLS: a self-signed certificate made at start.

The generator is the MTA's own (:mod:`mta.tls`); the simulator re-exports it so
its public surface stays where users found it.
"""

from __future__ import annotations

from mta.tls import SelfSignedCert, make_self_signed

__all__ = ["SelfSignedCert", "make_self_signed"]
