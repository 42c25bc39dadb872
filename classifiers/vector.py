"""The SMTP reply classifier, vectorised over a polars column (for the tailer).

:func:`classify_frame` gives, row for row, exactly what
:func:`classifiers.reply.classify_diag` gives; a test proves it on the whole corpus and
on generated input. How it stays fast:

1. deduplicate ``(diag, status)`` pairs — accounting diagnostics repeat heavily — unless
   a HyperLogLog estimate says most rows are distinct, when deduplicating cannot pay;
   each string column is hashed once, into integer codes, and the distinct rows are
   found and the verdicts joined back on those;
2. parse with the very regexes of :mod:`classifiers.status`, as polars string
   expressions (Rust ``regex``);
3. the first matching rule is the smallest index among: the first text-only rule
   matching the text (blocks of alternations over a shrinking set of texts, see
   :mod:`classifiers._match`), the first status/code-only rule matching the
   ``(code, status)`` pair (a few dozen pairs, decided once each), and the first rule
   with both kinds of condition (one in the default table), searched only where its
   code and status conditions hold;
4. the delivered / no-information / temporary / X.7 adjustments, and whose fault it
   is (:func:`classifiers.fault.fault_of`), are expressions;
5. the verdicts are joined back onto the rows.

A batch with only a few hundred distinct diagnostics goes through the scalar path
instead (see ``scalar_below``): Rust regexes cost ~0.25 ms each to compile, polars
caches only 32 of them, and a table has ~200.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from classifiers._match import (
    NO_CODE,
    NONE,
    Pairs,
    first_mixed_rule,
    first_pair_rule,
    first_text_rule,
)
from classifiers._rules import RuleTable, default_table
from classifiers.fault import CATEGORY_FAULT, fault_of, is_sender_status
from classifiers.reply import (
    DELIVERED,
    NO_INFORMATION,
    NO_MATCH,
    SECURITY_SUFFIX,
    SENDER_SUFFIX,
    TEMPORARY_SUFFIX,
    classify_reply,
)
from classifiers.status import (
    CODE_RE,
    CONTINUATION_RE,
    DIAG_TYPE_RE,
    DOTLESS_SMALL_I,
    DOTTED_CAPITAL_I,
    HEAD_STATUS_RE,
    LEADING_ZEROS_RE,
    SAID_CODE_RE,
    STATUS_RE,
    WHITESPACE,
    WHITESPACE_RUN_RE,
)

__all__ = ["OUTPUT_COLUMNS", "SCALAR_BELOW", "classify_frame", "classify_lazy", "parse_frame"]

OUTPUT_COLUMNS: Final = ("bounce_category", "bounce_class", "bounce_rule", "bounce_fault")
_DEDUPE_BELOW: Final = 0.5  # deduplicate when the estimated distinct share is below this
_DEDUPE_MIN_ROWS: Final = 4096  # below this, always deduplicate (the estimate costs more)
SCALAR_BELOW: Final = 512  # see classify_frame


def _status_of(column: str) -> pl.Expr:
    """The normalised first status in ``column`` ("" if none), as parse_enhanced_status."""
    found = pl.col(column).str.extract(STATUS_RE, 1)
    return found.str.replace_all(LEADING_ZEROS_RE, ".$1").fill_null("")


def _parse(keys: pl.DataFrame) -> pl.DataFrame:
    """Add ``_code`` (Int32, 0 = none), ``_st`` and ``_text`` to a frame of ``_d``, ``_s``."""
    body = (
        pl.col("_d")
        .str.strip_chars(WHITESPACE)
        .str.replace(DIAG_TYPE_RE, "")
        .str.strip_chars_start(WHITESPACE)
    )
    frame = keys.with_columns(body.alias("_body")).with_columns(
        pl.col("_body").str.extract(CODE_RE, 1).alias("_head"),
        pl.col("_body").str.extract(SAID_CODE_RE, 1).alias("_said"),
    )
    frame = frame.with_columns(
        pl.coalesce("_head", "_said").cast(pl.Int32).fill_null(NO_CODE).alias("_code"),
        pl.when(pl.col("_head").is_not_null())
        .then(pl.col("_body").str.replace(CODE_RE, "").str.strip_chars_start(WHITESPACE))
        .otherwise(pl.col("_body"))
        .alias("_rest"),
    )
    text = (
        pl.col("_rest")
        .str.replace(HEAD_STATUS_RE, "")
        .str.replace_all(CONTINUATION_RE, " ")
        .str.replace_all(WHITESPACE_RUN_RE, " ")
        .str.strip_chars(" ")
        .str.replace_many([DOTTED_CAPITAL_I, DOTLESS_SMALL_I], ["I", "i"])
    )
    frame = frame.with_columns(_status_of("_rest").alias("_st"), text.alias("_text"))
    frame = frame.with_columns(
        pl.when(pl.col("_st") != "").then(pl.col("_st")).otherwise(_status_of("_s")).alias("_st")
    )
    return frame.drop("_body", "_head", "_said", "_rest")


def _keys(frame: pl.DataFrame, diag: str, status: str) -> pl.DataFrame:
    status_expr = pl.col(status) if status in frame.columns else pl.lit("")
    return frame.select(
        pl.col(diag).cast(pl.String).fill_null("").alias("_d"),
        status_expr.cast(pl.String).fill_null("").alias("_s"),
    )


def parse_frame(diags: pl.Series, statuses: pl.Series | None = None) -> pl.DataFrame:
    """Parse a column of diagnostics like :func:`classifiers.status.parse_diag`, row by row.

    Returns columns ``code`` (Int32, null when none), ``status`` and ``text``. With
    ``statuses`` (PowerMTA's dsnStatus), a row whose diagnostic has no status takes its
    status from there, as :func:`classifiers.reply.classify_diag` does. Nulls count as "".
    """
    frame = pl.DataFrame({"dsnDiag": diags})
    if statuses is not None:
        frame = frame.with_columns(dsnStatus=statuses)
    return _parse(_keys(frame, "dsnDiag", "dsnStatus")).select(
        pl.when(pl.col("_code") == NO_CODE).then(None).otherwise(pl.col("_code")).alias("code"),
        pl.col("_st").alias("status"),
        pl.col("_text").alias("text"),
    )


def _verdicts(parsed: pl.DataFrame, table: RuleTable) -> pl.DataFrame:
    """The four output columns for each row of ``parsed`` (``_code``, ``_st``, ``_text``)."""
    indexed = list(enumerate(table.rules))
    text_only = [(i, r) for i, r in indexed if r.status is None and r.code is None]
    pair_only = [(i, r) for i, r in indexed if r.text is None]
    mixed = [(i, r) for i, r in indexed if r.text is not None and (r.status or r.code)]
    texts, pairs = parsed.get_column("_text"), Pairs(parsed)
    frame = parsed.select("_code", "_st", "_text").with_columns(
        first_text_rule(texts, text_only),
        first_pair_rule(pairs, pair_only),
        first_mixed_rule(texts, pairs, mixed),
    )
    positions = list(range(len(table)))

    def lookup(values: list[str | None]) -> pl.Expr:
        return pl.col("_idx").replace_strict(
            positions, values, default=None, return_dtype=pl.String
        )

    code, status, index, cls = pl.col("_code"), pl.col("_st"), pl.col("_idx"), pl.col("_class")
    delivered = code.is_between(200, 299) | ((code == NO_CODE) & status.str.starts_with("2."))
    no_info = (code == NO_CODE) & (status == "") & (pl.col("_text") == "")
    temporary = code.is_between(400, 499) | status.str.starts_with("4.")
    # fault_of's steps 2 and 4 depend on the status alone, and a column holds few
    # distinct statuses: decide each once ("sender", else the subject's fault).
    statuses = parsed.get_column("_st").unique().to_list()
    by_status = status.replace_strict(
        statuses,
        ["sender" if is_sender_status(s) else fault_of("other", s) for s in statuses],
        return_dtype=pl.String,
    )
    sender = pl.col("_by_status") == "sender"
    to_sender = cls.is_in(["hard", "unknown"]) & sender
    to_temp = cls.is_in(["hard", "unknown"]) & temporary & ~to_sender
    to_security = (cls == "hard") & (status.str.slice(1, 3) == ".7.") & ~to_temp & ~to_sender
    frame = frame.with_columns(_idx=pl.min_horizontal("_t", "_p", "_m")).with_columns(
        lookup([rule.category for rule in table]).alias("_category"),
        lookup([rule.cls for rule in table]).alias("_class"),
        lookup([rule.id for rule in table]).alias("_rule"),
        # fault_of's steps 1 and 3 per rule: its own fault, else its category's (if any).
        lookup([rule.fault or CATEGORY_FAULT.get(rule.category) for rule in table]).alias(
            "_by_rule"
        ),
        by_status.alias("_by_status"),
    )
    overriding = [i for i, rule in indexed if rule.fault is not None]
    return frame.select(
        pl.when(delivered | no_info | (index == NONE))
        .then(pl.lit("other"))
        .otherwise("_category")
        .alias("bounce_category"),
        pl.when(delivered)
        .then(pl.lit("delivered"))
        .when(no_info | (index == NONE))
        .then(pl.lit("unknown"))
        .when(to_sender)
        .then(pl.lit("spam"))
        .when(to_temp | to_security)
        .then(pl.lit("soft"))
        .otherwise("_class")
        .alias("bounce_class"),
        pl.when(delivered)
        .then(pl.lit(DELIVERED))
        .when(no_info)
        .then(pl.lit(NO_INFORMATION))
        .when(index == NONE)
        .then(pl.lit(NO_MATCH))
        .when(to_sender)
        .then(pl.col("_rule") + SENDER_SUFFIX)
        .when(to_temp)
        .then(pl.col("_rule") + TEMPORARY_SUFFIX)
        .when(to_security)
        .then(pl.col("_rule") + SECURITY_SUFFIX)
        .otherwise("_rule")
        .alias("bounce_rule"),
        pl.when(delivered | no_info)
        .then(pl.lit("unknown"))
        .otherwise(
            pl.when(sender & ~index.is_in(overriding))
            .then(pl.lit("sender"))
            .otherwise(pl.coalesce("_by_rule", "_by_status"))
        )
        .alias("bounce_fault"),
    )


def _row_keys(keys: pl.DataFrame) -> pl.Series:
    """``_k``: one UInt64 per row, equal exactly where the rows' ``(_d, _s)`` are equal.

    Each string column is hashed once, into the codes of a private categorical mapping
    (dense, exact: no hash collisions to fear); everything after that — finding the
    distinct rows, joining the verdicts back — works on integers, not on 1M strings.
    The mappings are freed with the codes' categorical columns.
    """

    def codes(column: str) -> pl.Expr:
        private = pl.Categorical(pl.Categories.random())
        return pl.col(column).cast(private).to_physical().cast(pl.UInt64)

    key = keys.select((codes("_d") * (1 << 32) + codes("_s")).alias("_k")).to_series()
    if key.null_count():  # a code reserved but unnamed (see pl.Categories): never expected
        dense = pl.struct("_d", "_s").rank("dense").cast(pl.UInt64).alias("_k")
        return keys.select(dense).to_series()
    return key


def _worth_deduplicating(keys: pl.DataFrame) -> bool:
    if keys.height < _DEDUPE_MIN_ROWS:
        return True
    estimate = int(keys.select(pl.col("_d").approx_n_unique()).item())
    return estimate < _DEDUPE_BELOW * keys.height


def _scalar_verdicts(parsed: pl.DataFrame, table: RuleTable | None) -> pl.DataFrame:
    """The four output columns by the scalar path, one call per (already distinct) row."""
    verdicts = [
        classify_reply(None if code == NO_CODE else code, status, text, table=table)
        for code, status, text in parsed.select("_code", "_st", "_text").iter_rows()
    ]
    return pl.DataFrame(
        {
            "bounce_category": [v.category for v in verdicts],
            "bounce_class": [v.cls for v in verdicts],
            "bounce_rule": [v.rule_id for v in verdicts],
            "bounce_fault": [v.fault for v in verdicts],
        },
        schema=dict.fromkeys(OUTPUT_COLUMNS, pl.String),
    )


def classify_frame(
    df: pl.DataFrame,
    *,
    diag: str = "dsnDiag",
    status: str = "dsnStatus",
    table: RuleTable | None = None,
    scalar_below: int = SCALAR_BELOW,
) -> pl.DataFrame:
    """Return ``df`` with the :data:`OUTPUT_COLUMNS` added (category, class, rule, fault).

    Row for row the same verdict as ``classify_diag(row[diag], row[status])`` with the
    same table (default: the packaged one). The ``status`` column is optional (missing
    means ""); nulls count as "". Existing columns of those names are replaced.

    When fewer than ``scalar_below`` distinct diagnostics remain after deduplication,
    they are classified by the scalar path itself (LRU-cached with the default table):
    compiling the table's patterns for Rust costs more than that (about 0.1 s), which
    matters to a tailer handing over small batches. ``scalar_below=0`` forces polars.
    """
    keys = _keys(df, diag, status)
    rules = table or default_table()
    if not _worth_deduplicating(keys):
        return df.with_columns(_verdicts(_parse(keys), rules))
    row_key = _row_keys(keys)
    first = row_key.is_first_distinct()
    parsed = _parse(keys.filter(first))
    if parsed.height < scalar_below:
        verdicts = _scalar_verdicts(parsed, table)
    else:
        verdicts = _verdicts(parsed, rules)
    per_key = verdicts.with_columns(row_key.filter(first))
    joined = row_key.to_frame().join(
        per_key, on="_k", how="left", maintain_order="left", build_side="prefer_right"
    )
    return df.with_columns(joined.select(OUTPUT_COLUMNS))


def classify_lazy(
    lf: pl.LazyFrame,
    *,
    diag: str = "dsnDiag",
    status: str = "dsnStatus",
    table: RuleTable | None = None,
    scalar_below: int = SCALAR_BELOW,
) -> pl.LazyFrame:
    """:func:`classify_frame` as a step of a lazy query (each batch is classified whole)."""
    schema = lf.collect_schema()
    for name in OUTPUT_COLUMNS:
        schema[name] = pl.String
    return lf.map_batches(
        lambda df: classify_frame(
            df, diag=diag, status=status, table=table, scalar_below=scalar_below
        ),
        schema=schema,
    )
