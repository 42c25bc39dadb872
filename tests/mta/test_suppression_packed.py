"""The packed suppression set answers exactly as a plain dict of (scope, address) would,
through any sequence of changes, compactions (in one step or built aside while changes
keep coming), bulk loads and snapshots."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mta.errors import BadFormatError
from mta.suppression import (
    GONE,
    REASONS,
    SuppressionEntry,
    SuppressionSet,
    reason_code,
    suppression_key,
)

ADDRESSES = [f"u{n}@example.test" for n in range(12)]
SCOPES = ["global", "domain:sender.test", "list:j1"]
NOW = 1_000.0

Model = dict[tuple[str, str], tuple[str, float | None]]

_change = st.tuples(
    st.just("apply"),
    st.sampled_from(SCOPES),
    st.sampled_from(ADDRESSES),
    st.sampled_from(REASONS),
    st.one_of(st.none(), st.sampled_from([NOW - 1, NOW, NOW + 1])),
    st.booleans(),  # removed
)
_step = st.one_of(
    _change,
    st.tuples(st.sampled_from(["compact", "begin", "end", "snapshot", "reload"])),
)


def _check(s: SuppressionSet, model: Model) -> None:
    assert len(s) == len(model)
    for address in ADDRESSES:
        for sender, job in (("x@sender.test", "j1"), ("x@other.test", None), ("", None)):
            scopes = ["global"]
            if sender.endswith("@sender.test"):
                scopes.append("domain:sender.test")
            if job:
                scopes.append(f"list:{job}")
            want = None
            for scope in scopes:
                held = model.get((scope, address))
                if held is not None and (held[1] is None or held[1] > NOW):
                    want = held[0]
                    break
            assert s.reason(address, sender=sender, job_id=job, now=NOW) == want


def _load_from_model(model: Model) -> SuppressionSet:
    """A set bulk-loaded from arrays of the model's entries (expiring ones in a side table)."""
    items = list(model.items())
    keys = np.array([suppression_key(s, a) for (s, a), _ in items], np.uint64)
    codes = np.array([reason_code(r) for _, (r, _) in items], np.uint8)
    expiring = [(suppression_key(s, a), e) for (s, a), (_, e) in items if e is not None]
    loaded = SuppressionSet()
    loaded.load_arrays(
        keys,
        codes,
        np.array([k for k, _ in expiring], np.uint64),
        np.array([e for _, e in expiring], np.float64),
    )
    return loaded


@given(st.lists(_step, max_size=60))
@settings(max_examples=300, deadline=None)
def test_the_set_agrees_with_a_dict_model(steps: list[tuple[object, ...]]) -> None:
    s = SuppressionSet()
    model: Model = {}
    job = None
    for step in steps:
        match step:
            case ("apply", scope, address, reason, expires, removed):
                assert isinstance(scope, str)
                assert isinstance(address, str)
                assert isinstance(reason, str)
                assert expires is None or isinstance(expires, float)
                s.apply([SuppressionEntry(address, scope, reason, expires, bool(removed))])
                if removed:
                    model.pop((scope, address), None)
                else:
                    model[(scope, address)] = (reason, expires)
            case ("compact",):
                s.compact()
            case ("begin",):
                job = s.begin_compaction()
            case ("end",):
                if job is not None:
                    job.build()  # built late: changes applied since begin must survive
                    s.end_compaction(job)
                    job = None
            case ("snapshot",):
                copy = SuppressionSet()
                copy.load_bytes(s.to_bytes())
                s = copy
                job = None
            case ("reload",):
                s = _load_from_model(model)
                job = None
        _check(s, model)


def test_changes_by_key_and_an_outdated_compaction() -> None:
    """apply_keys takes stored keys; a compaction begun before a replace is dropped."""
    s = SuppressionSet()
    key = suppression_key("global", "a@b.test")
    s.apply_keys([(key, reason_code("complaint"), None)])
    job = s.begin_compaction()
    s.clear()
    job.build()
    assert not s.end_compaction(job)
    assert len(s) == 0
    s.apply_keys([(key, reason_code("complaint"), None), (key, GONE, None)])
    assert s.reason("a@b.test") is None
    assert len(s) == 0


def test_a_large_set_stays_within_its_byte_budget() -> None:
    """Keys, codes, directory and filter: at most 16 bytes per address."""
    n = 300_000
    keys = np.random.default_rng(7).integers(0, 2**64 - 1, n, dtype=np.uint64)
    s = SuppressionSet()
    s.load_arrays(keys, np.zeros(n, np.uint8))
    assert s.nbytes / len(s) <= 16
    s.apply([SuppressionEntry("late@b.test", reason="complaint")])
    assert s.reason("late@b.test") == "complaint"
    s.compact()
    assert s.reason("LATE@b.test") == "complaint"
    assert len(s) == n + 1


def test_a_snapshot_of_an_older_format_or_with_bad_codes_is_refused() -> None:
    """Format 1 and an unknown reason code are refused with a clear error."""
    with pytest.raises(BadFormatError, match="format 2"):
        SuppressionSet().load_bytes(b'{"format": 1, "cursor": 0, "entries": 0}\n')
    bad = b'{"format": 2, "cursor": 0, "entries": 1, "expiring": 0}\n' + bytes(8) + b"\x7f"
    with pytest.raises(BadFormatError, match="reason code"):
        SuppressionSet().load_bytes(bad)
