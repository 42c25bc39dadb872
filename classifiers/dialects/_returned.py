"""Where a notice's own text ends and a returned original, pasted in without a marker, begins.

Some systems append the original's headers straight after their notice (single
part, no "Original message follows" line). A plug-in that collects every address
of its notice stops at the first line that looks like such a header, so the
original's ``From``/``To`` never become recipients.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["RETURNED_HEADER"]

# The fields every returned original starts with or carries near its top.
RETURNED_HEADER: Final = re.compile(
    r"^(?:Return-Path|Received|From|To|Cc|Subject|Date|Message-I[Dd]|MIME-Version|"
    r"DKIM-Signature|X-Acctpipe-[\w-]+):\s",
    re.IGNORECASE,
)
