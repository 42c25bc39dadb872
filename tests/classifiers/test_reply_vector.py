"""The vectorised path gives exactly the scalar path's verdict, row by row."""

from __future__ import annotations

import random
from collections.abc import Sequence

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import classifiers._match
from classifiers._rules import RuleTable, RuleText, load_rules
from classifiers.reply import classify_diag
from classifiers.status import parse_diag
from classifiers.vector import OUTPUT_COLUMNS, classify_frame, classify_lazy, parse_frame
from tests.classifiers._replies import corpus


def _scalar(
    diags: Sequence[str | None], statuses: Sequence[str | None], table: RuleTable | None = None
) -> list[tuple[str, str, str, str]]:
    verdicts = [
        classify_diag(d or "", s or "", table=table) for d, s in zip(diags, statuses, strict=True)
    ]
    return [(v.category, v.cls, v.rule_id, v.fault) for v in verdicts]


def _vector(frame: pl.DataFrame, **kwargs: object) -> list[tuple[str, str, str, str]]:
    out = classify_frame(frame, **kwargs)  # type: ignore[arg-type]
    return list(out.select(OUTPUT_COLUMNS).iter_rows())


def _corpus_frame() -> pl.DataFrame:
    rows = corpus()
    return pl.DataFrame({"dsnDiag": [r.diag for r in rows], "dsnStatus": [r.status for r in rows]})


@pytest.mark.slow
@pytest.mark.parametrize(
    ("few", "one_pass"),
    [(0, 0), (0, 10**9), (10**9, 0)],
    ids=["rust-rule-by-rule", "rust-one-pass", "re-inside-blocks"],
)
def test_vector_equals_scalar_on_the_whole_corpus(
    few: int, one_pass: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every corpus row gets the same category, class, rule id and fault from both paths."""
    monkeypatch.setattr(classifiers._match, "FEW", few)
    monkeypatch.setattr(classifiers._match, "ONE_PASS", one_pass)
    frame = _corpus_frame()
    expected = _scalar(frame["dsnDiag"].to_list(), frame["dsnStatus"].to_list())
    assert _vector(frame, scalar_below=0) == expected


@pytest.mark.slow
def test_vector_equals_scalar_on_a_shuffled_duplicated_corpus() -> None:
    """Order and repetition do not matter: a shuffled, 7-fold corpus still agrees row by row."""
    frame = pl.concat([_corpus_frame()] * 7).sample(fraction=1.0, shuffle=True, seed=20261125)
    expected = _scalar(frame["dsnDiag"].to_list(), frame["dsnStatus"].to_list())
    assert _vector(frame, scalar_below=0) == expected
    assert _vector(frame) == expected  # few distinct values: the scalar shortcut


@pytest.mark.slow
def test_vector_equals_scalar_when_most_rows_are_distinct() -> None:
    """A mostly-distinct column skips deduplication and still agrees row by row."""
    rng = random.Random(7)
    rows = corpus()
    picks = [rng.choice(rows) for _ in range(6000)]
    diags = [f"{r.diag} id={i}" if i % 3 else r.diag for i, r in enumerate(picks)]
    statuses = [r.status for r in picks]
    frame = pl.DataFrame({"dsnDiag": diags, "dsnStatus": statuses})
    assert _vector(frame, scalar_below=0) == _scalar(diags, statuses)


def test_vectorised_parse_equals_parse_diag_on_the_corpus() -> None:
    """parse_frame extracts the same (code, status, text) as parse_diag for every row."""
    frame = _corpus_frame()
    parsed = parse_frame(frame["dsnDiag"])
    assert list(parsed.iter_rows()) == [parse_diag(d) for d in frame["dsnDiag"]]


def test_parse_frame_takes_the_status_column_as_a_fallback() -> None:
    """A diagnostic without a status takes the dsnStatus column's, like classify_diag."""
    parsed = parse_frame(
        pl.Series(["smtp;550 gone", "smtp;550 5.1.1 gone", None]),
        pl.Series(["5.2.1 (mailbox disabled)", "5.0.0", None]),
    )
    assert parsed["status"].to_list() == ["5.2.1", "5.1.1", ""]
    assert parsed["code"].to_list() == [550, 550, None]


def test_null_and_empty_diagnostics_do_not_crash() -> None:
    """Nulls and empty strings in either column classify like "" (no-information)."""
    frame = pl.DataFrame(
        {"dsnDiag": [None, "", "  ", None], "dsnStatus": [None, None, "", "5.1.1"]},
        schema={"dsnDiag": pl.String, "dsnStatus": pl.String},
    )
    expected = _scalar(frame["dsnDiag"].to_list(), frame["dsnStatus"].to_list())
    assert _vector(frame, scalar_below=0) == expected
    assert expected[0] == ("other", "unknown", "no-information", "unknown")
    assert expected[3][2] == "status-x.1.1"


def test_an_empty_frame_gets_empty_output_columns() -> None:
    """A frame with no rows comes back with the three String columns added."""
    frame = pl.DataFrame(
        {"dsnDiag": [], "dsnStatus": []}, schema={"dsnDiag": pl.String, "dsnStatus": pl.String}
    )
    out = classify_frame(frame, scalar_below=0)
    assert out.height == 0
    assert [out.schema[c] for c in OUTPUT_COLUMNS] == [pl.String] * len(OUTPUT_COLUMNS)


def test_other_columns_and_row_order_are_kept() -> None:
    """The input columns stay as they were; the three verdict columns are appended."""
    frame = pl.DataFrame(
        {
            "type": ["b", "d", "b"],
            "dsnDiag": ["smtp;550 5.1.1 x", "smtp;250 ok", "smtp;452 4.2.2 full"],
        }
    )
    out = classify_frame(frame, scalar_below=0)
    assert out.columns == ["type", "dsnDiag", *OUTPUT_COLUMNS]
    assert out["type"].to_list() == ["b", "d", "b"]
    assert out["bounce_class"].to_list() == ["hard", "delivered", "soft"]


def test_custom_column_names_and_a_missing_status_column() -> None:
    """diag= and status= pick the columns; a status column that is absent counts as ""."""
    frame = pl.DataFrame({"diag": ["smtp;550 Rejected"], "st": ["5.7.1"]})
    with_status = classify_frame(frame, diag="diag", status="st", scalar_below=0)
    without = classify_frame(frame, diag="diag", scalar_below=0)
    assert with_status["bounce_rule"].to_list() == ["status-x.7.1"]
    assert without["bounce_rule"].to_list() == ["code-5xx"]


@pytest.mark.slow
def test_the_lazy_variant_matches_the_eager_one() -> None:
    """classify_lazy adds the same columns inside a lazy query."""
    frame = _corpus_frame()
    lazy = classify_lazy(frame.lazy(), scalar_below=0).collect()
    assert lazy.equals(classify_frame(frame, scalar_below=0))


USER_RULES = RuleText(
    "user.toml",
    """
[[rule]]
id = "user-text"
comment = "a text-only user rule shadowing the Gmail default"
text = 'tried to reach does not exist'
category = "other"
class = "spam"

[[rule]]
id = "user-mixed"
comment = "text AND status: only a 5.7.1 'Message rejected'"
text = 'Message rejected'
status = '^5\\.7\\.1$'
category = "content-related"
class = "hard"

[[rule]]
id = "user-code"
comment = "a code-only user rule before every default"
code = '^554$'
category = "bad-domain"
class = "hard"
fault = "network"
""",
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("few", "one_pass"),
    [(0, 0), (0, 10**9), (10**9, 0)],
    ids=["rust-rule-by-rule", "rust-one-pass", "re-inside-blocks"],
)
def test_user_rules_give_the_same_verdicts_in_both_paths(
    few: int, one_pass: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text-only, mixed and code-only user rules (one with a fault) apply first, in both paths."""
    monkeypatch.setattr(classifiers._match, "FEW", few)
    monkeypatch.setattr(classifiers._match, "ONE_PASS", one_pass)
    table = load_rules(USER_RULES)
    frame = _corpus_frame()
    expected = _scalar(frame["dsnDiag"].to_list(), frame["dsnStatus"].to_list(), table)
    assert {rule for _, _, rule, _ in expected} >= {
        "user-text",
        "user-code",
        "user-mixed+security-status",
    }
    assert {fault for _, _, rule, fault in expected if rule == "user-code"} == {"network"}
    assert _vector(frame, table=table, scalar_below=0) == expected


_PIECES = st.sampled_from(
    [
        "smtp;",
        "X-Postfix;",
        " SMTP ; ",
        "x-unix;",
        "550",
        "550-",
        "421 ",
        "250 ",
        "5.1.1 ",
        "4.2.2",
        "5.07.001",
        "#5.1.1",
        "(4.4.7)",
        "192.5.1.10",
        "5.1.1.",
        "said: 452 ",
        " ",
        "\n",
        "\r\n",
        "\t",
        "\x0b",
        "\x85",
        "\u2028",
        "\xa0",
        "\u0130",
        "\u0131",
        "\u017f",
        "\u212a",
        "\u0345",
        "\u17d2",
        "\u247c",
        "_",
        "No such user!",
        "blocked",
        "SPF",
        "spam",
        "user unknown",
        "mailbox full",
        "Host not found, try again",
    ]
)
_FRAGMENTS = st.builds(
    lambda d, a, n: d[a : a + n],
    st.sampled_from([r.diag for r in corpus()]),
    st.integers(0, 200),
    st.integers(0, 80),
)
_DIAGS = st.lists(st.one_of(_PIECES, _FRAGMENTS, st.text(max_size=6)), max_size=8).map("".join)
_STATUSES = st.one_of(st.none(), st.sampled_from(["", "5.1.1 (x)", "4.0.0", "2.0.0", "junk"]))


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_DIAGS, min_size=1, max_size=40))
def test_vectorised_parse_equals_parse_diag_on_generated_text(diags: list[str]) -> None:
    """On arbitrary diagnostic-like text the polars parse agrees with parse_diag exactly."""
    parsed = parse_frame(pl.Series(diags, dtype=pl.String))
    assert list(parsed.iter_rows()) == [parse_diag(d) for d in diags]


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_DIAGS, _STATUSES), min_size=1, max_size=60))
def test_vector_equals_scalar_on_generated_text(rows: list[tuple[str, str | None]]) -> None:
    """On arbitrary diagnostic-like text both paths agree row by row (Rust vs Python regex)."""
    diags = [d for d, _ in rows]
    statuses = [s for _, s in rows]
    frame = pl.DataFrame(
        {"dsnDiag": diags, "dsnStatus": statuses},
        schema={"dsnDiag": pl.String, "dsnStatus": pl.String},
    )
    assert _vector(frame, scalar_below=0) == _scalar(diags, statuses)


@pytest.mark.slow
def test_texts_a_block_claims_wrongly_still_reach_later_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If a block's alternation claimed texts none of its rules match, they move on."""
    monkeypatch.setattr(classifiers._match, "_alternation", lambda block: ".")
    for few, one_pass in [(0, 0), (0, 10**9), (10**9, 0)]:
        monkeypatch.setattr(classifiers._match, "FEW", few)
        monkeypatch.setattr(classifiers._match, "ONE_PASS", one_pass)
        frame = _corpus_frame()
        expected = _scalar(frame["dsnDiag"].to_list(), frame["dsnStatus"].to_list())
        assert _vector(frame, scalar_below=0) == expected
