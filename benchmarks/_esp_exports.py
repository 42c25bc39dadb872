"""ESP-shaped suppression exports of any size, for timing ``acctpipe suppress import``.

Each file has the header the format's documentation gives (the table in
docs/suppressions.md) and rows shaped like that ESP writes them: SES with ISO
8601 times in milliseconds, SendGrid with epoch seconds and SMTP replies (one in
twelve spam-class, which the import skips), Mailgun with RFC 2822 dates, Postmark
with ISO times and its reason names (one in twenty a soft bounce, skipped), and
our own export with scopes and expiry. The addresses, times and texts are made
up here from a seed; the same arguments write the same bytes.

    .venv/bin/python -m benchmarks._esp_exports --rows 200000 --out /tmp/esp
    /usr/bin/time .venv/bin/acctpipe suppress import /tmp/esp/ses-200000.csv \\
        --database-url sqlite:////tmp/esp/ses.sqlite
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

Row = list[str]
_START: Final = datetime(2023, 1, 1, tzinfo=UTC)
_DOMAINS: Final = ("gmail.com", "Yahoo.com", "outlook.com", "example.org", "mail.ru", "web.de")
_BOUNCES: Final = (
    ("550 5.1.1 The email account that you tried to reach does not exist.", "5.1.1"),
    ("550 5.1.1 user unknown", "5.1.1"),
    ("550 No such user here", "5.1.1"),
    ("552 5.2.2 Mailbox full", "5.2.2"),
    ("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found", "5.1.10"),
    ("553 5.1.3 Invalid address", "5.1.3"),
    ("550 Requested action not taken: mailbox unavailable", "5.0.0"),
    ("554 delivery error: dd This user doesn't have an account", "5.0.0"),
    ("550 5.1.1 Recipient address rejected: User unknown in virtual mailbox table", "5.1.1"),
    ("550 5.2.1 The email account that you tried to reach is disabled.", "5.2.1"),
    ("511 sorry, no mailbox here by that name", ""),
    (
        "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        "5.7.1",
    ),
)


def _address(rng: random.Random, i: int) -> str:
    return f"user{i}.{rng.randrange(10**6)}@{_DOMAINS[i % len(_DOMAINS)]}"


def _when(rng: random.Random) -> datetime:
    return _START + timedelta(seconds=rng.randrange(365 * 86400), milliseconds=rng.randrange(1000))


def _ses(rng: random.Random, i: int) -> Row:
    reason = "COMPLAINT" if i % 7 == 0 else "BOUNCE"
    when = _when(rng).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [_address(rng, i), reason, when]


def _sendgrid(rng: random.Random, i: int) -> Row:
    address = _address(rng, i)
    text, status = _BOUNCES[i % len(_BOUNCES)]
    return [address, str(int(_when(rng).timestamp())), text, status]


def _mailgun(rng: random.Random, i: int) -> Row:
    text, _ = _BOUNCES[i % (len(_BOUNCES) - 1)]  # Mailgun keeps blocks apart from bounces
    code, _, error = text.partition(" ")
    when = _when(rng).strftime("%a, %d %b %Y %H:%M:%S UTC")
    return [_address(rng, i), code, error, when]


_POSTMARK_REASONS: Final = (
    ("HardBounce", "Recipient"),
    ("HardBounce", "Recipient"),
    ("SpamComplaint", "Recipient"),
    ("ManualSuppression", "Recipient"),
    ("ManualSuppression", "Customer"),
)


def _postmark(rng: random.Random, i: int) -> Row:
    reason, origin = ("SoftBounce", "Recipient") if i % 20 == 0 else rng.choice(_POSTMARK_REASONS)
    when = _when(rng).isoformat(timespec="seconds").replace("+00:00", "Z")
    return [_address(rng, i), reason, origin, when]


def _acctpipe(rng: random.Random, i: int) -> Row:
    scope = "global" if i % 3 else f"domain:news{i % 5}.example.org"
    reason = ("hard-bounce", "complaint", "unsubscribe", "manual")[i % 4]
    created = _when(rng)
    expires = "" if i % 10 else (created + timedelta(days=30)).isoformat()
    return [
        _address(rng, i),
        scope,
        reason,
        f"{reason} imported",
        created.isoformat(),
        created.isoformat(),
        expires,
    ]


FORMATS: Final[dict[str, tuple[Row, Callable[[random.Random, int], Row]]]] = {
    "ses": (["EmailAddress", "Reason", "LastUpdateTime"], _ses),
    "sendgrid-bounces": (["email", "created", "reason", "status"], _sendgrid),
    "mailgun-bounces": (["address", "code", "error", "created_at"], _mailgun),
    "postmark": (["EmailAddress", "SuppressionReason", "Origin", "CreatedAt"], _postmark),
    "acctpipe": (
        ["address", "scope", "reason", "detail", "created_at", "updated_at", "expires_at"],
        _acctpipe,
    ),
}


def rows(name: str, count: int, seed: int = 18) -> Iterator[Row]:
    """The header and ``count`` rows of format ``name`` (a key of :data:`FORMATS`)."""
    header, make = FORMATS[name]
    rng = random.Random(f"{seed}:{name}")
    yield header
    for i in range(count):
        yield make(rng, i)


def write(name: str, count: int, path: Path) -> None:
    """Write ``count`` rows of format ``name`` to ``path``."""
    with path.open("w", newline="") as out:
        csv.writer(out, lineterminator="\n").writerows(rows(name, count))


def main(argv: Sequence[str] | None = None) -> int:
    """Write one file per format: ``<out>/<format>-<rows>.csv``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._esp_exports", description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000, help="rows per file")
    parser.add_argument("--out", type=Path, required=True, help="directory to write to")
    parser.add_argument("--formats", nargs="*", choices=sorted(FORMATS), default=sorted(FORMATS))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.formats:
        path = args.out / f"{name}-{args.rows}.csv"
        write(name, args.rows, path)
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
