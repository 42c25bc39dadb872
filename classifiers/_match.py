"""First-matching-rule search over polars columns (internal to :mod:`classifiers.vector`).

Every function here returns one value per input row, in input order, and agrees with
:meth:`classifiers._rules.Rule.matches` evaluated rule by rule. Rust's ``regex`` runs
the text patterns; that is exact because table patterns are restricted to the syntax
both engines read the same way (:mod:`classifiers._regex`).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from classifiers._rules import Rule

__all__ = ["NONE", "NO_CODE", "Pairs", "first_mixed_rule", "first_pair_rule", "first_text_rule"]

NONE: Final = 1 << 30  # "no rule matched" as a rule index; larger than any table
NO_CODE: Final = 0  # the Int32 code of a reply without one (joins dislike nulls)
# Text rules are tried in blocks of BLOCK rules: one alternation, one lazy-DFA pass.
# Larger alternations overflow the lazy DFA's cache on real texts and fall back to a
# far slower engine; smaller ones cost more passes.
BLOCK: Final = 32
# Up to this many texts claimed by a block are resolved with the rules' own ``re``
# patterns (about 2.5 us a search on real texts); more make it worth compiling the
# block's rules for Rust (about 0.25 ms each: polars caches only 32 compiled regexes).
FEW: Final = 64
# Up to this many, all of a block's rules are evaluated in one polars call; beyond it,
# rule by rule on a shrinking set (fewer regex scans, more calls and copies).
ONE_PASS: Final = 20_000

IndexedRules = list[tuple[int, Rule]]


def _alternation(rules: IndexedRules) -> str:
    """A pattern that matches where any of ``rules``' text patterns matches."""
    return "(?i)" + "|".join(f"(?:{rule.text})" for _, rule in rules)


def _resolve(first: pl.Series, candidates: pl.DataFrame, block: IndexedRules) -> pl.DataFrame:
    """Write into ``first`` which rule of ``block`` matches each candidate first.

    Returns the candidates no single rule matched — none, unless the engines disagreed
    about the block's alternation; the caller lets them try the following blocks.
    """
    if candidates.height < FEW:
        found = [
            next((i for i, rule in block if rule.matches("", "", text)), NONE)
            for text in candidates.get_column("text")
        ]
        resolved = pl.Series(found, dtype=pl.Int32)
        first.scatter(candidates.get_column("row"), resolved)
        return candidates.filter(resolved == NONE)
    if candidates.height < ONE_PASS:
        text = pl.col("text")
        earliest = candidates.select(
            pl.min_horizontal(
                pl.when(text.str.contains(f"(?i){rule.text}")).then(pl.lit(index, pl.Int32))
                for index, rule in block
            ).fill_null(NONE)
        ).to_series()
        first.scatter(candidates.get_column("row"), earliest)
        return candidates.filter(earliest == NONE)
    for index, rule in block:
        if candidates.is_empty():
            break
        member = candidates.get_column("text").str.contains(f"(?i){rule.text}")
        first.scatter(candidates.get_column("row").filter(member), index)
        candidates = candidates.filter(~member)
    return candidates


def first_text_rule(texts: pl.Series, rules: IndexedRules) -> pl.Series:
    """Per text, the index of the first text-only rule that matches it (NONE if none).

    ``contains(a|b)`` holds exactly when ``contains(a)`` or ``contains(b)`` does, so a
    block's alternation splits the pending texts into those some rule of the block
    claims and the rest, which move on; the claimed ones are then resolved with ``re``
    (a few), all of the block's rules in one polars call (up to ONE_PASS), or rule by
    rule on a shrinking set (more).
    """
    first = pl.repeat(NONE, len(texts), dtype=pl.Int32, eager=True)
    pending = pl.DataFrame(
        {"row": pl.int_range(len(texts), dtype=pl.UInt32, eager=True), "text": texts}
    )
    for start in range(0, len(rules), BLOCK):
        if pending.is_empty():
            break
        block = rules[start : start + BLOCK]
        hit = pending.get_column("text").str.contains(_alternation(block))
        claimed, pending = pending.filter(hit), pending.filter(~hit)
        if not claimed.is_empty():
            pending = pl.concat([pending, _resolve(first, claimed, block)])
    return first.alias("_t")


def _code_text(code: int) -> str:
    return "" if code == NO_CODE else str(code)


class Pairs:
    """The distinct ``(code, status)`` pairs of a frame, and each row's pair.

    A column holds a few dozen distinct pairs, so status and code conditions are decided
    once per pair with the rules' own compiled ``re`` patterns — the very code the
    scalar path runs — and looked up per row by pair number.
    """

    def __init__(self, frame: pl.DataFrame) -> None:
        self.pairs = frame.select("_code", "_st").unique().with_row_index("_pair")
        joined = frame.select("_code", "_st").join(
            self.pairs, on=["_code", "_st"], how="left", maintain_order="left"
        )
        self.row_pair = joined.get_column("_pair")
        self.values = [(_code_text(code), status) for _, code, status in self.pairs.iter_rows()]

    def matching(self, rule: Rule) -> list[int]:
        """Numbers of the pairs that ``rule``'s code and status conditions accept."""
        return [
            n
            for n, (code, status) in enumerate(self.values)
            if rule.matches_code_status(code, status)
        ]


def first_pair_rule(pairs: Pairs, rules: IndexedRules) -> pl.Series:
    """Per row, the first status/code-only rule that matches its pair (NONE if none)."""
    firsts = [
        next((i for i, rule in rules if rule.matches_code_status(code, status)), NONE)
        for code, status in pairs.values
    ]
    return pl.Series(firsts, dtype=pl.Int32).gather(pairs.row_pair).alias("_p")


def first_mixed_rule(texts: pl.Series, pairs: Pairs, rules: IndexedRules) -> pl.Series:
    """Per row, the first rule with a text AND a status/code condition (NONE if none).

    Only the rows whose pair the rule accepts are searched for its text.
    """
    best = pl.repeat(NONE, len(texts), dtype=pl.Int32, eager=True)
    rows = pl.int_range(len(texts), dtype=pl.UInt32, eager=True)
    for index, rule in reversed(rules):  # earlier rules overwrite later ones
        accepted = pairs.row_pair.is_in(pairs.matching(rule))
        candidates = texts.filter(accepted)
        if candidates.is_empty():
            continue
        hit = candidates.str.contains(f"(?i){rule.text}")
        best.scatter(rows.filter(accepted).filter(hit), index)
    return best.alias("_m")
