"""The last resort for bounces no parser or dialect understood: flufl.bounce.

flufl.bounce (Mailman's detectors) finds addresses in many odd formats but says
nothing about *why*; we pair each address with the failure text found near it
in the body, so the reply rules can still pick a category.
"""

from __future__ import annotations

from email.message import Message

from flufl.bounce import all_failures

from classifiers._mime import text_near
from classifiers.dialects import Finding

__all__ = ["flufl_findings", "with_flufl"]


def flufl_findings(msg: Message, text: str) -> list[Finding]:
    """Failed recipients per flufl.bounce, each with the body line that mentions it."""
    try:
        temporary, permanent = all_failures(msg)  # flufl.bounce returns them in this order
    except Exception:  # noqa: BLE001 - third-party detectors on hostile input: never raise
        return []
    findings: list[Finding] = []
    for raw, is_temp in [
        *((a, False) for a in sorted(permanent)),
        *((a, True) for a in sorted(temporary - permanent)),
    ]:
        address = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        findings.append(Finding(address, text_near(text, address), is_temp))
    return findings


def with_flufl(findings: list[Finding], extra: list[Finding]) -> list[Finding]:
    """``findings``, then the addresses of ``extra`` they lack (a reader that is not sure
    of the layout still finds at least what flufl.bounce finds)."""
    seen = {f.address.lower() for f in findings}
    return [*findings, *(f for f in extra if f.address.lower() not in seen)]
