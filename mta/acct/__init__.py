"""PowerMTA accounting files and our reject log: a sans-IO codec.

Write with :class:`AccountingEncoder` / :class:`AccountingWriter`, read with
:class:`AccountingDecoder` (bytes in, :class:`Header` / :class:`Row` /
:class:`MalformedRow` out, exact byte offsets) or :func:`read_accounting` for a
whole file. The reject log has the same dialect: :func:`encode_reject` and
:class:`RejectLogDecoder`. The formats are documented in ``docs/accounting.md``
and ``docs/reject-log.md``.
"""

from mta.acct._csvcore import DEFAULT_MAX_RECORD_SIZE
from mta.acct.fields import (
    DEFAULT_FIELDS,
    DEFAULT_HEADER,
    FEEDBACK_FIELDS,
    HEADER_FIELD_PREFIX,
    KNOWN_FIELDS,
    RECORD_TYPE_DESCRIPTIONS,
    RECORD_TYPES,
    RecordType,
    is_known_field,
    is_record_type,
    union_fields,
)
from mta.acct.reader import (
    AccountingDecoder,
    AccountingEvent,
    BulkParser,
    Header,
    MalformedRow,
    Row,
    read_accounting,
)
from mta.acct.rejectlog import (
    REJECT_FIELDS,
    REJECT_KINDS,
    REJECT_REASONS,
    RejectKind,
    RejectLogDecoder,
    RejectReason,
    RejectRecord,
    RejectRow,
    encode_reject,
    encode_reject_header,
    reject_reason,
)
from mta.acct.timefmt import format_time, parse_time
from mta.acct.writer import AccountingEncoder, AccountingWriter

__all__ = [
    "DEFAULT_FIELDS",
    "DEFAULT_HEADER",
    "DEFAULT_MAX_RECORD_SIZE",
    "FEEDBACK_FIELDS",
    "HEADER_FIELD_PREFIX",
    "KNOWN_FIELDS",
    "RECORD_TYPES",
    "RECORD_TYPE_DESCRIPTIONS",
    "REJECT_FIELDS",
    "REJECT_KINDS",
    "REJECT_REASONS",
    "AccountingDecoder",
    "AccountingEncoder",
    "AccountingEvent",
    "AccountingWriter",
    "BulkParser",
    "Header",
    "MalformedRow",
    "RecordType",
    "RejectKind",
    "RejectLogDecoder",
    "RejectReason",
    "RejectRecord",
    "RejectRow",
    "Row",
    "encode_reject",
    "encode_reject_header",
    "format_time",
    "is_known_field",
    "is_record_type",
    "parse_time",
    "read_accounting",
    "reject_reason",
    "union_fields",
]
