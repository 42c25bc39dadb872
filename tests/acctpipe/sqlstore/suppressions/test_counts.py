"""The kept counts (``suppression_counts``) equal a GROUP BY of the list, and the readers
that show counts — the dashboard, the metrics, the demo summary — read them, never the list.

The second half proves "read them" without a list of millions: a deliberately wrong
figure written into ``suppression_counts`` is what each of them shows.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, delete, insert, select

from acctpipe.analytics import build_registry, render
from acctpipe.api import ApiKeyStore, ApiSettings, Services
from acctpipe.api.dashboard import collect
from acctpipe.policy.types import SuppressionReason
from acctpipe.sqlstore.schema import suppression_changes, suppression_counts, suppressions
from acctpipe.sqlstore.suppressions import SuppressionStore, ThrottleStore
from acctpipe.sqlstore.suppressions.store import scope_kind
from mta.suppression import REASONS
from tests.acctpipe.sqlstore._decisions import T0, decision

ops = st.tuples(
    st.sampled_from(["add", "remove", "expire"]),
    st.sampled_from(["a@example.com", "b@example.com", "c@example.com"]),
    st.sampled_from(["global", "list:news", "domain:example.org"]),
    st.sampled_from(REASONS[:3]),
    st.none() | st.integers(1, 3),
)


def _grouped(engine: Engine) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    with engine.connect() as conn:
        for reason, scope in conn.execute(select(suppressions.c.reason, suppressions.c.scope)):
            key = (reason, scope_kind(scope))
            found[key] = found.get(key, 0) + 1
    return found


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.lists(ops, min_size=1, max_size=4), max_size=8))
def test_the_kept_counts_equal_a_group_by_after_any_writes(
    engine: Engine, steps: list[list[tuple[str, str, str, SuppressionReason, int | None]]]
) -> None:
    """Adds, updates that change the reason, removals and the expiry sweep, in batches with
    repeats: the kept counts always equal counting the rows by (reason, scope kind)."""
    with engine.begin() as conn:
        for table in (suppression_changes, suppression_counts, suppressions):
            conn.execute(delete(table))
    store = SuppressionStore(engine)
    for n, batch in enumerate(steps):
        at = T0 + timedelta(days=n)
        decisions = [
            decision(a, r, scope=s, days=d, at=at, remove=op == "remove")
            for op, a, s, r, d in batch
            if op != "expire"
        ]
        if decisions:
            store.apply(decisions)
        if any(op == "expire" for op, *_ in batch):
            store.expire(at)
        assert store.counts() == _grouped(engine)
        assert store.count() == sum(_grouped(engine).values())


def _services(engine: Engine) -> Services:
    return Services(
        engine=engine,
        suppressions=SuppressionStore(engine),
        throttles=ThrottleStore(engine),
        keys=ApiKeyStore(engine),
        settings=ApiSettings(),
    )


def _rig(engine: Engine) -> None:
    """One real suppression, and kept counts that say something else entirely."""
    SuppressionStore(engine).add("a@example.com", reason="complaint")
    with engine.begin() as conn:
        conn.execute(delete(suppression_counts))
        conn.execute(
            insert(suppression_counts),
            [
                {"reason": "complaint", "scope_kind": "global", "n": 7_000_000},
                {"reason": "manual", "scope_kind": "list", "n": 41},
            ],
        )


def test_the_dashboard_shows_the_kept_counts(engine: Engine) -> None:
    """The dashboard's suppression figures come from suppression_counts, not the list."""
    _rig(engine)
    shown = collect(_services(engine)).suppressions
    assert shown.by_reason["complaint"] == 7_000_000
    assert shown.by_reason["manual"] == 41
    assert shown.by_reason["hard-bounce"] == 0
    assert shown.total == 7_000_041


def test_the_metrics_show_the_kept_counts(engine: Engine) -> None:
    """acctpipe_suppressions is read from suppression_counts, by reason and scope kind."""
    _rig(engine)
    text = render(build_registry(engine=engine)).decode()
    found = {
        (s.labels["reason"], s.labels["scope_kind"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "acctpipe_suppressions"
    }
    assert found == {("complaint", "global"): 7_000_000, ("manual", "list"): 41}
