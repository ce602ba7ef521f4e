"""The checkers against hand-made histories: a correct run passes, each kind of violation is caught."""

from __future__ import annotations

import pytest

from tests.robustness.checker import Violation, check_watch, check_writes, coverage, covered, replay
from tests.robustness.history import Event, Get, List, Report, WatchStream, Write


def add(rev: int, key: str, tok: str) -> Event:
    return Event("ADDED", rev, key, tok)


def mod(rev: int, key: str, tok: str) -> Event:
    return Event("MODIFIED", rev, key, tok)


def dele(rev: int, key: str) -> Event:
    return Event("DELETED", rev, key)


def mark(rev: int) -> Event:
    return Event("BOOKMARK", rev)


# base 10: a created at 11, b at 12, a updated at 13 (conditioned on 11), b deleted at 15 (on 12).
GOOD = [add(11, "a", "t1"), add(12, "b", "t2"), mod(13, "a", "t3"), dele(15, "b")]


def good_writes() -> list[Write]:
    return [
        Write("create", "a", "t1", None, 0, 1, "ok", 11),
        Write("create", "b", "t2", None, 0, 1, "ok", 12),
        Write("update", "a", "t3", 11, 2, 3, "ok", 13),
        Write("update", "a", "t4", 11, 2, 3, "failed"),
        Write("delete", "b", None, 12, 4, 5, "ok"),
        Write("create", "c", "t5", None, 4, 5, "unknown"),
    ]


def good_report(**changes: object) -> Report:
    report = Report(
        streams=[WatchStream("w0", 10, list(GOOD)), WatchStream("w1", 10, [*GOOD[:2], mark(12)]),
                 WatchStream("w1", 12, [*GOOD[2:], mark(16)])],
        writes=good_writes(),
        gets=[Get("a", 3.5, 4, 13, "t3"), Get("b", 6, 7, None, None)],
        lists=[List(10, {}), List(13, {"a": (11, "t1"), "b": (12, "t2")} | {"a": (13, "t3")})],
        final=List(16, {"a": (13, "t3")}),
        base=10,
    )
    for name, value in changes.items():
        setattr(report, name, value)
    return report


def checks(violations: list[Violation]) -> set[str]:
    return {v.check for v in violations}


def test_correct_history_passes() -> None:
    """A consistent run (with a refused write and a write of unknown outcome) has no violation."""
    unverified: list[str] = []
    assert check_watch(good_report()) == []
    assert check_writes(good_report(), unverified) == []
    assert unverified == []


WATCH_CASES = {
    "ordered: revision goes back": ([add(11, "a", "t1"), mod(13, "a", "t3"), add(12, "b", "t2")], "ordered"),
    "ordered: event not after start": ([add(10, "z", "t9"), *GOOD], "ordered"),
    "unique: event twice": ([*GOOD[:3], GOOD[2], GOOD[3]], "unique"),
    "reliable: event skipped": ([GOOD[0], GOOD[2], GOOD[3]], "reliable"),
    "reliable: bookmark claims an event not delivered": ([*GOOD[:2], mark(13)], "reliable"),
    "resumable: first event is not the next one": ([GOOD[1], GOOD[2], GOOD[3]], "resumable"),
    "bookmarkable: bookmark goes back": ([*GOOD[:3], mark(12), GOOD[3]], "bookmarkable"),
    "bookmarkable: event not after bookmark": ([*GOOD[:2], mark(14), GOOD[2], GOOD[3]], "bookmarkable"),
    "atomic: a stream disagrees on a revision": ([*GOOD[:2], mod(13, "a", "other"), GOOD[3]], "atomic"),
}


@pytest.mark.parametrize(("events", "expected"), WATCH_CASES.values(), ids=WATCH_CASES.keys())
def test_watch_property_violation_is_caught(events: list[Event], expected: str) -> None:
    """A stream breaking one watch property, next to a correct one, is reported under that property."""
    report = good_report(streams=[WatchStream("good", 10, list(GOOD)), WatchStream("bad", 10, events)])
    assert expected in checks(check_watch(report))


def test_partial_revision_is_atomic_violation() -> None:
    """A multi-event revision delivered partially by one stream breaks atomicity."""
    both = [add(11, "a", "t1"), add(11, "b", "t2")]
    report = good_report(streams=[WatchStream("good", 10, both), WatchStream("bad", 10, both[:1])], writes=[], gets=[], lists=[])
    assert "atomic" in checks(check_watch(report))


def replace_write(token_or_key: str, **fields: object) -> list[Write]:
    out = good_writes()
    for w in out:
        if w.token == token_or_key or (w.token is None and w.key == token_or_key):
            for name, value in fields.items():
                setattr(w, name, value)
    return out


def without(events: list[Event], rev: int) -> list[Event]:
    return [e for e in events if e.revision != rev]


def write_case(**changes: object) -> Report:
    return good_report(**changes)


WRITE_CASES = {
    "lost: acked update nowhere (watched range)": (write_case(
        streams=[WatchStream("w0", 10, without(GOOD, 13))],
        lists=[], gets=[], final=List(16, {"a": (11, "t1")})), "lost"),
    "lost: acked update stored at another revision": (write_case(writes=replace_write("t3", revision=14)), "lost"),
    "lost: acked delete never happened": (write_case(
        streams=[WatchStream("w0", 10, GOOD[:3])], gets=[], final=List(16, {"a": (13, "t3"), "b": (12, "t2")})), "lost"),
    "phantom: refused write applied": (write_case(writes=replace_write("t3", outcome="failed")), "phantom"),
    "phantom: write applied twice": (write_case(streams=[WatchStream("w0", 10, [*GOOD, mod(17, "a", "t3")])], gets=[], final=None), "phantom"),
    "phantom: event from no write": (write_case(writes=[w for w in good_writes() if w.token != "t2"]), "phantom"),
    "precondition: update applied on another version": (write_case(writes=replace_write("t3", precondition=12)), "precondition"),
    "list: list disagrees with history": (write_case(lists=[List(13, {"a": (11, "t1"), "b": (12, "t2")})]), "list"),
    "list: final state disagrees": (write_case(final=List(16, {"a": (13, "t3"), "b": (12, "t2")})), "list"),
    "get: value not in the history": (write_case(gets=[Get("a", 3.5, 4, 13, "t1")]), "get"),
    "get: stale read after an acknowledged write": (write_case(gets=[Get("a", 3.5, 4, 11, "t1")]), "get"),
    "get: 404 while the object exists": (write_case(gets=[Get("a", 3.5, 4, None, None)]), "get"),
}


@pytest.mark.parametrize(("report", "expected"), WRITE_CASES.values(), ids=WRITE_CASES.keys())
def test_write_violation_is_caught(report: Report, expected: str) -> None:
    """Each hand-made lost, phantom or misapplied write, and each wrong read, is reported."""
    assert expected in checks(check_writes(report))


def test_write_in_a_gap_is_unverified_not_lost() -> None:
    """After a 410 and a re-list, a write no stream and no list saw cannot be judged: it is reported as
    unverified, not as lost; the list after the gap becomes the new basis."""
    report = Report(
        streams=[WatchStream("w0", 10, [add(11, "a", "t1")]), WatchStream("w0", 14, [mod(15, "a", "t4")])],
        writes=[Write("create", "a", "t1", None, 0, 1, "ok", 11), Write("update", "a", "t2", 11, 1, 2, "ok", 12),
                Write("update", "a", "t3", 12, 2, 3, "ok", 13), Write("update", "a", "t4", 13, 3, 4, "ok", 15)],
        lists=[List(14, {"a": (13, "t3")})], final=List(15, {"a": (15, "t4")}), base=10)
    unverified: list[str] = []
    assert check_writes(report, unverified) == []
    assert any("t2" in u for u in unverified)
    assert not any("(t3)" in u for u in unverified)  # the re-list shows it


def test_not_found_after_a_delete_in_a_gap_is_judged_by_the_list_after_it() -> None:
    """A key deleted in a history gap: a 404 get after a re-list that shows it gone is consistent (not
    unverified); a 404 get when a later covered history shows it back is a stale read."""
    streams = [WatchStream("w0", 10, [add(11, "a", "t1")]), WatchStream("w0", 13, [add(14, "b", "t2")])]
    writes = [Write("create", "a", "t1", None, 0, 1, "ok", 11), Write("delete", "a", None, 11, 1, 2, "ok"),
              Write("create", "b", "t2", None, 3, 4, "ok", 14)]
    report = Report(streams=streams, writes=writes, gets=[Get("a", 5, 6, None, None)],
                    lists=[List(13, {}, 2.5, 2.6)], final=List(14, {"b": (14, "t2")}), base=10)
    unverified: list[str] = []
    assert check_writes(report, unverified) == []
    assert not any("get a" in u for u in unverified), unverified
    recreated = Report(streams=[*streams, WatchStream("w1", 14, [add(15, "a", "t3")])],
                       writes=[*writes, Write("create", "a", "t3", None, 4, 4.5, "ok", 15)],
                       gets=[Get("a", 5, 6, None, None)], lists=[List(13, {}, 2.5, 2.6)],
                       final=List(15, {"a": (15, "t3"), "b": (14, "t2")}), base=10)
    assert "get" in checks(check_writes(recreated))


def test_coverage_and_replay() -> None:
    """Coverage merges overlapping streams; replay applies events up to a revision."""
    spans = coverage([WatchStream("a", 10, [add(12, "a", "t")]), WatchStream("b", 11, [mark(14)]), WatchStream("c", 20, [])])
    assert spans == [(10, 14), (20, 20)]
    assert covered(spans, 10, 14) and not covered(spans, 13, 21) and covered(spans, 17, 17)
    assert replay({11: [add(11, "a", "t1")], 13: [dele(13, "a")], 14: [add(14, "b", "t2")]}, 13) == {}
    assert replay({11: [add(11, "a", "t1")], 14: [add(14, "b", "t2")]}, 14) == {"a": (11, "t1"), "b": (14, "t2")}
