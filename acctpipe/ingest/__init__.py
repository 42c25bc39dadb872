"""Accounting and reject-log ingest: identify files, decode, type, classify, commit.

:class:`Loader` reads one file from its committed offset; :class:`Tailer`
follows directories with watchdog plus a periodic rescan.
"""

from acctpipe.ingest.files import DEFAULT_GLOBS, discover, kind_of
from acctpipe.ingest.frames import CLASSIFIED_TYPES, Rejected, events_frame, rejects_frame
from acctpipe.ingest.identity import (
    FINGERPRINT_SIZE,
    HEADER_PROBE,
    FileIdentity,
    fingerprint,
    identify,
)
from acctpipe.ingest.loader import IngestStats, Loader
from acctpipe.ingest.tailer import DEFAULT_RESCAN, Tailer

__all__ = [
    "CLASSIFIED_TYPES",
    "DEFAULT_GLOBS",
    "DEFAULT_RESCAN",
    "FINGERPRINT_SIZE",
    "HEADER_PROBE",
    "FileIdentity",
    "IngestStats",
    "Loader",
    "Rejected",
    "Tailer",
    "discover",
    "events_frame",
    "fingerprint",
    "identify",
    "kind_of",
    "rejects_frame",
]
