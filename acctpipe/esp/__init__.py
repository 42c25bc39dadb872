"""ESP notifications posted to the API: checked, read, and written as accounting records.

``POST /v1/esp/{provider}`` (see :mod:`acctpipe.api.routes_esp`) hands the body
to :class:`EspIntake`: authenticity checks (:mod:`~acctpipe.esp.sns`,
:mod:`~acctpipe.esp.certs`, :mod:`~acctpipe.esp.webhooks`), then the events
(:mod:`~acctpipe.esp.events`) into the accounting file the tailer follows
(:mod:`~acctpipe.esp.sink`).
"""

from __future__ import annotations

from acctpipe.esp._reject import RejectedError
from acctpipe.esp.events import PROVIDERS, Provider
from acctpipe.esp.intake import EspIntake, Outcome
from acctpipe.esp.settings import EspSettings

__all__ = ["PROVIDERS", "EspIntake", "EspSettings", "Outcome", "Provider", "RejectedError"]
