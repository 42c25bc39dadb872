"""A simulated receiving ISP on loopback, for tests, the demo and the benchmarks.

An aiosmtpd server that behaves like a real mailbox provider per a scripted
:class:`IspProfile`: it accepts with a queue id, defers when a per-client-IP rate
or connection limit is exceeded (in the provider's own wording), refuses unknown
users and full mailboxes, blocks listed IPs, greylists, answers slowly, hangs up
at random (seeded), offers STARTTLS with a throwaway certificate, and counts all
of it per client IP (:class:`Counters`) so tests can prove a sender's throttles.
It also writes DSNs and ARF reports (:func:`make_dsn`, :func:`make_arf`, pure)
and sends them back over loopback (:func:`send_report`). It only ever listens
and sends on 127.0.0.0/8 or ::1. See docs/isp-simulator.md.
"""

from acctpipe.sim._loopback import parse_listen
from acctpipe.sim.counters import Counters, IpStats
from acctpipe.sim.mailbox import MessageStore, ReceivedMessage
from acctpipe.sim.policy import IspPolicy, TokenBucket
from acctpipe.sim.profile import IspProfile, Replies
from acctpipe.sim.profiles import BUILTIN_PROFILES, load_profile, profile_from_toml
from acctpipe.sim.reports import make_arf, make_dsn
from acctpipe.sim.sender import send_report
from acctpipe.sim.server import IspSimulator, ThreadedIspSimulator
from acctpipe.sim.tls import SelfSignedCert, make_self_signed

__all__ = [
    "BUILTIN_PROFILES",
    "Counters",
    "IpStats",
    "IspPolicy",
    "IspProfile",
    "IspSimulator",
    "MessageStore",
    "ReceivedMessage",
    "Replies",
    "SelfSignedCert",
    "ThreadedIspSimulator",
    "TokenBucket",
    "load_profile",
    "make_arf",
    "make_dsn",
    "make_self_signed",
    "parse_listen",
    "profile_from_toml",
    "send_report",
]
