"""Judges a recorded run (`tests.robustness.history.Report`): watch guarantees and lost writes.

Pure functions over recorded data, no I/O. The reference history is the union of every stream's events
(revision -> event), as etcd's robustness suite merges its clients' watches; streams must agree on it.

Watch properties (etcd robustness, validate/watch.go), per stream:
- ordered: revisions never go back; events of one revision are contiguous; bookmarks never go back.
- unique: no (revision, key) twice.
- atomic: a stream that delivers a revision delivers all of its events (and streams agree on them).
- reliable: no event of the history between the stream's start and the last revision it reported
  (event or bookmark) is missing.
- resumable: the first event of a stream started at S is the first history event after S.
- bookmarkable: a bookmark's revision is >= the last event before it and < every event after it.

Writes and reads (`check_writes`):
- lost: an acknowledged create/update whose token is neither in the history nor in the final state,
  or is there with another revision; an acknowledged delete whose DELETED event does not follow the
  version it was conditioned on.
- phantom: a refused write whose token appears; a token that appears twice; an event with no write.
- precondition: an update applied to another version than the one it was conditioned on.
- list: a list that differs from the history replayed at its revision (final list included).
- get: a get returning a version the history does not hold at that revision, or a version older than
  one acknowledged before the get began (stale read).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from tests.robustness.history import Event, Get, List, Report, WatchStream

PROPERTIES = ("ordered", "unique", "atomic", "reliable", "resumable", "bookmarkable")
WRITE_CHECKS = ("lost", "phantom", "precondition", "list", "get")


@dataclass(frozen=True)
class Violation:
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


def merged_history(streams: list[WatchStream]) -> tuple[dict[int, list[Event]], list[Violation]]:
    """revision -> events of that revision, from every stream; disagreements are atomic violations."""
    history: dict[int, list[Event]] = {}
    out: list[Violation] = []
    for s in streams:
        by_rev: dict[int, list[Event]] = defaultdict(list)
        for ev in s.events:
            if ev.type != "BOOKMARK":
                by_rev[ev.revision].append(ev)
        for rev, evs in by_rev.items():
            known = history.get(rev)
            if known is None:
                history[rev] = sorted(set(evs), key=lambda e: e.key)
            elif set(known) != set(evs):
                missing = set(known) - set(evs)
                extra = set(evs) - set(known)
                if extra:
                    out.append(Violation("atomic", f"{s.client}: revision {rev} disagrees with another stream: {sorted(extra, key=str)}"))
                    history[rev] = sorted(set(known) | extra, key=lambda e: e.key)
                if missing:
                    out.append(Violation("atomic", f"{s.client}: revision {rev} delivered partially, missing {sorted(missing, key=str)}"))
    return history, out


def check_watch(report: Report) -> list[Violation]:
    """Every watch property violation of every stream of the run."""
    history, out = merged_history(report.streams)
    revisions = sorted(history)
    for s in report.streams:
        out += _check_stream(s, history, revisions)
    return out


def _check_stream(s: WatchStream, history: dict[int, list[Event]], revisions: list[int]) -> list[Violation]:
    out: list[Violation] = []
    name = f"{s.client}@{s.start}"
    seen: set[tuple[int, str]] = set()
    finished: set[int] = set()
    bookmark: int | None = None
    last_event = s.start
    current: int | None = None
    reported = s.start
    for ev in s.events:
        if ev.type == "BOOKMARK":
            if ev.revision < last_event:
                out.append(Violation("bookmarkable", f"{name}: bookmark {ev.revision} after event {last_event}"))
            bookmark = max(bookmark or 0, ev.revision)
            reported = max(reported, ev.revision)
            continue
        if ev.revision <= s.start:
            out.append(Violation("ordered", f"{name}: event {ev.revision} not after the start revision"))
        if ev.revision < last_event or (ev.revision != current and ev.revision in finished):
            out.append(Violation("ordered", f"{name}: event {ev.revision} after {last_event}"))
        elif bookmark is not None and ev.revision <= bookmark and ev.revision != current:
            out.append(Violation("bookmarkable", f"{name}: event {ev.revision} not after bookmark {bookmark}"))
        if (ev.revision, ev.key) in seen:
            out.append(Violation("unique", f"{name}: {ev.type} {ev.key} at {ev.revision} delivered twice"))
        seen.add((ev.revision, ev.key))
        if current is not None and current != ev.revision:
            finished.add(current)
        current = ev.revision
        last_event = max(last_event, ev.revision)
        reported = max(reported, ev.revision)
    delivered = {(rev, key) for rev, key in seen}
    for rev in revisions:
        if rev <= s.start or rev > reported:
            continue
        for ev in history[rev]:
            if (ev.revision, ev.key) not in delivered:
                out.append(Violation("reliable", f"{name}: missed {ev.type} {ev.key} at {rev} (stream reached {reported})"))
    first = next((e for e in s.events if e.type != "BOOKMARK"), None)
    if first is not None:
        expected = next((r for r in revisions if r > s.start), None)
        if expected is not None and first.revision != expected:
            out.append(Violation("resumable", f"{name}: first event at {first.revision}, history continues at {expected}"))
    return out


def replay(history: dict[int, list[Event]], revision: int) -> dict[str, tuple[int, str | None]]:
    """State (key -> (mod revision, token)) after applying every history event up to `revision`."""
    state: dict[str, tuple[int, str | None]] = {}
    for rev in sorted(r for r in history if r <= revision):
        for ev in history[rev]:
            if ev.type == "DELETED":
                state.pop(ev.key, None)
            else:
                state[ev.key] = (rev, ev.token)
    return state


def coverage(streams: list[WatchStream]) -> list[tuple[int, int]]:
    """Merged revision ranges (lo, hi] that some stream reported completely (up to its last event or
    bookmark); revisions outside them fell between a broken watch and a re-list (410 Expired)."""
    spans = sorted((s.start, max([s.start, *(e.revision for e in s.events)])) for s in streams)
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def covered(spans: list[tuple[int, int]], lo: int, hi: int) -> bool:
    """Whether every revision in (lo, hi] is inside one reported range."""
    return hi <= lo or any(a <= lo and hi <= b for a, b in spans)


def check_writes(report: Report, unverified: list[str] | None = None) -> list[Violation]:
    """Lost, phantom and misapplied writes, and reads that disagree with the history. Writes and reads
    that fell in a gap of the history (no stream covered them, no list shows them) cannot be judged:
    they are described in `unverified` instead."""
    unverified = unverified if unverified is not None else []
    history, _ = merged_history(report.streams)
    spans = coverage(report.streams)
    out: list[Violation] = []
    by_token: dict[str, list[Event]] = defaultdict(list)
    per_key: dict[str, list[Event]] = defaultdict(list)
    for rev in sorted(history):
        for ev in history[rev]:
            per_key[ev.key].append(ev)
            if ev.token is not None:
                by_token[ev.token].append(ev)
    snapshots = [*report.lists, *([report.final] if report.final else [])]
    listed: dict[str, set[int]] = defaultdict(set)
    for lst in snapshots:
        for rev, tok in lst.items.values():
            if tok:
                listed[tok].add(rev)
    writes = {w.token: w for w in report.writes if w.token is not None}
    last = max([report.final.revision if report.final else 0, *history])

    for tok, evs in by_token.items():
        if len(evs) > 1:
            out.append(Violation("phantom", f"token {tok} applied {len(evs)} times at {[e.revision for e in evs]}"))
        w = writes.get(tok)
        if w is None:
            out.append(Violation("phantom", f"event {evs[0].type} {evs[0].key} at {evs[0].revision} from no recorded write"))
        elif w.outcome == "failed":
            out.append(Violation("phantom", f"refused {w.kind} of {w.key} ({tok}) appears at {evs[0].revision}"))
    for tok, revs in listed.items():
        w = writes.get(tok)
        if w is not None and w.outcome == "failed":
            out.append(Violation("phantom", f"refused {w.kind} of {w.key} ({tok}) is listed at {sorted(revs)}"))

    for w in report.writes:
        if w.outcome != "ok":
            continue
        if w.kind == "delete":
            out += _check_delete(w.key, w.precondition, per_key, spans, report.final, last, unverified)
            continue
        assert w.token is not None and w.revision is not None
        found = {e.revision for e in by_token.get(w.token, [])} | listed.get(w.token, set())
        if w.revision in found and len(found) == 1:
            continue
        if found:
            out.append(Violation("lost", f"acknowledged {w.kind} of {w.key} at {w.revision} ({w.token}) stored at {sorted(found)}"))
        elif covered(spans, w.revision - 1, w.revision):
            out.append(Violation("lost", f"acknowledged {w.kind} of {w.key} at {w.revision} ({w.token}) is nowhere"))
        else:
            unverified.append(f"{w.kind} of {w.key} at {w.revision} ({w.token}): in a history gap, overwritten before any list")

    for w in report.writes:
        if w.kind != "update" or w.token is None or w.precondition is None:
            continue
        for ev in by_token.get(w.token, []):
            if not covered(spans, w.precondition - 1, ev.revision):
                unverified.append(f"precondition of update {w.token}: ({w.precondition}, {ev.revision}] not fully watched")
                continue
            evs = per_key[ev.key]
            i = evs.index(ev)
            prev = evs[i - 1].revision if i > 0 and evs[i - 1].type != "DELETED" else None
            if prev != w.precondition:
                out.append(Violation("precondition", f"update {w.token} of {w.key} conditioned on {w.precondition} applied on {prev}"))

    out += _check_lists(snapshots, history, spans, report.base, unverified)
    acked = sorted((w.end, w.revision) for w in report.writes if w.outcome == "ok" and w.revision is not None)
    for g in report.gets:
        out += _check_get(g, history, per_key, acked, report.base, spans, listed, snapshots, last, unverified)
    return out


def _check_delete(key: str, precondition: int | None, per_key: dict[str, list[Event]], spans: list[tuple[int, int]],
                  final: List | None, last: int, unverified: list[str]) -> list[Violation]:
    pre = precondition or 0
    nxt = next((e for e in per_key.get(key, []) if e.revision > pre), None)
    if nxt is not None and nxt.type == "DELETED":
        return []
    if final is not None and final.items.get(key, (None, None))[0] == precondition:
        return [Violation("lost", f"acknowledged delete of {key} at version {precondition}: that version is still in the final list")]
    end = nxt.revision if nxt is not None else last
    if covered(spans, pre, end):
        return [Violation("lost", f"acknowledged delete of {key} (precondition {precondition}): next event {nxt}")]
    unverified.append(f"delete of {key} after {precondition}: in a history gap")
    return []


def _check_lists(lists: list[List], history: dict[int, list[Event]], spans: list[tuple[int, int]], base: int,
                 unverified: list[str]) -> list[Violation]:
    """Each list must equal the last trusted state before it (the empty prefix at `base`, or an earlier
    list) with the history between them replayed; a list after a gap becomes a trusted state itself."""
    out: list[Violation] = []
    known: list[tuple[int, Mapping[str, tuple[int, str | None]]]] = [(base, {})]
    for lst in sorted(lists, key=lambda item: item.revision):
        if lst.revision < base:
            continue
        basis = next(((rev, state) for rev, state in reversed(known) if rev <= lst.revision and covered(spans, rev, lst.revision)), None)
        if basis is None:
            unverified.append(f"list at {lst.revision}: after a history gap, taken as the new basis")
            known.append((lst.revision, lst.items))
            continue
        expected = dict(basis[1])
        for rev in sorted(r for r in history if basis[0] < r <= lst.revision):
            for ev in history[rev]:
                if ev.type == "DELETED":
                    expected.pop(ev.key, None)
                else:
                    expected[ev.key] = (rev, ev.token)
        if lst.items != expected:
            diff = sorted(set(lst.items.items()) ^ set(expected.items()))
            out.append(Violation("list", f"list at {lst.revision} differs from the history replayed from {basis[0]}: {diff[:6]}"))
        known.append((lst.revision, lst.items))
        known.sort(key=lambda item: item[0])
    return out


def _check_get(g: Get, history: dict[int, list[Event]], per_key: dict[str, list[Event]],
               acked: list[tuple[float, int]], base: int, spans: list[tuple[int, int]],
               listed: dict[str, set[int]], snapshots: list[List], last: int,
               unverified: list[str]) -> list[Violation]:
    floor = max((rev for end, rev in acked if end < g.begin), default=base)
    before = [e for e in per_key.get(g.key, []) if e.revision <= floor]
    state_at_floor = before[-1] if before else None
    if g.revision is None:
        absent = state_at_floor is None or state_at_floor.type == "DELETED"
        if not absent and state_at_floor is not None:
            # Deleted in a history gap: a list between that version and the floor shows the key gone, and
            # the history from that list to the floor is complete (no re-creation unseen).
            absent = any(state_at_floor.revision < lst.revision <= floor and g.key not in lst.items
                         and covered(spans, lst.revision, floor) for lst in snapshots)
        deleted_after = any(e.type == "DELETED" and e.revision > floor for e in per_key.get(g.key, []))
        if absent or deleted_after:
            return []
        assert state_at_floor is not None
        if covered(spans, state_at_floor.revision, last):
            return [Violation("get", f"get {g.key} found nothing, but it existed at {floor} and was not deleted since")]
        unverified.append(f"get {g.key} (404): a delete may be in a history gap")
        return []
    if g.revision < base:
        return []
    ev = next((e for e in history.get(g.revision, []) if e.key == g.key), None)
    if ev is None and g.token is not None and g.revision in listed.get(g.token, set()):
        pass
    elif ev is None and not covered(spans, g.revision - 1, g.revision):
        unverified.append(f"get {g.key} at {g.revision}: in a history gap")
    elif ev is None or ev.type == "DELETED" or ev.token != g.token:
        return [Violation("get", f"get {g.key} returned {g.token} at {g.revision}, the history holds {ev}")]
    if state_at_floor is not None and state_at_floor.revision > g.revision:
        return [Violation("get", f"stale get {g.key}: returned {g.revision}, {state_at_floor.revision} was acknowledged before it began")]
    return []
