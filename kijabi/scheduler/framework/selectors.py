"""Label selectors, node selectors and taints, compiled once and matched fast.

Matching happens per node and per pod in the scheduler's hot loops, so every selector is compiled to
plain tuples first: `LabelSelector` (metav1.LabelSelector semantics: a nil selector matches NOTHING,
an empty one EVERYTHING), `NodeSelector` (v1.NodeSelector: ORed terms of ANDed requirements, with
matchFields on metadata.name), `RequiredNodeAffinity` (nodeSelector + required node affinity of a pod,
upstream component-helpers nodeaffinity) and taint/toleration matching (v1helper).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_QUALIFIED = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# Requirement operators (internal codes).
OP_IN, OP_NOT_IN, OP_EXISTS, OP_NOT_EXISTS, OP_GT, OP_LT = range(6)
_LABEL_OPS = {"In": OP_IN, "NotIn": OP_NOT_IN, "Exists": OP_EXISTS, "DoesNotExist": OP_NOT_EXISTS}
_NODE_OPS = {**_LABEL_OPS, "Gt": OP_GT, "Lt": OP_LT}

Requirement = tuple[str, int, Any]  # key, op, frozenset of values | int bound | None


class SelectorError(ValueError):
    """A selector that cannot be compiled (upstream returns the same errors from LabelSelectorAsSelector)."""


def _match_requirement(req: Requirement, labels: Mapping[str, str]) -> bool:
    key, op, values = req
    if op == OP_IN:
        return labels.get(key) in values
    if op == OP_NOT_IN:
        return labels.get(key) not in values
    if op == OP_EXISTS:
        return key in labels
    if op == OP_NOT_EXISTS:
        return key not in labels
    raw = labels.get(key)
    if raw is None:
        return False
    try:
        n = int(raw)
    except ValueError:
        return False
    return bool(n > values) if op == OP_GT else bool(n < values)


class LabelSelector:
    """A compiled metav1.LabelSelector. Build with `compile_label_selector` or `from_set`."""

    __slots__ = ("eq", "nothing", "reqs")

    def __init__(self, eq: tuple[tuple[str, str], ...] = (), reqs: tuple[Requirement, ...] = (),
                 nothing: bool = False) -> None:
        self.eq = eq
        self.reqs = reqs
        self.nothing = nothing

    @classmethod
    def from_set(cls, labels: Mapping[str, str]) -> LabelSelector:
        """A selector requiring every key=value of `labels` (labels.SelectorFromSet)."""
        return cls(tuple(sorted((str(k), str(v)) for k, v in labels.items())))

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        if labels is None:
            labels = {}
        for k, v in self.eq:
            if labels.get(k) != v:
                return False
        for r in self.reqs:
            if not _match_requirement(r, labels):
                return False
        return True

    def empty(self) -> bool:
        """True for the selector that matches everything (upstream `Selector.Empty()`)."""
        return not self.nothing and not self.eq and not self.reqs

    def merged(self, other: LabelSelector) -> LabelSelector:
        """Both selectors' requirements (upstream `selector.Add(requirements...)`)."""
        if self.nothing or other.nothing:
            return NOTHING
        return LabelSelector(self.eq + other.eq, self.reqs + other.reqs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return (self.nothing, self.eq, self.reqs) == (other.nothing, other.eq, other.reqs)

    def __hash__(self) -> int:
        return hash((self.nothing, self.eq, self.reqs))

    def __repr__(self) -> str:
        if self.nothing:
            return "LabelSelector(<nothing>)"
        return f"LabelSelector({self.eq!r}, {self.reqs!r})"


NOTHING = LabelSelector(nothing=True)
EVERYTHING = LabelSelector()


def compile_label_selector(sel: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None -> NOTHING, {} -> EVERYTHING; SelectorError if invalid."""
    if sel is None:
        return NOTHING
    eq: list[tuple[str, str]] = []
    for k, v in (sel.get("matchLabels") or {}).items():
        if not _QUALIFIED.match(str(k)):
            raise SelectorError(f"invalid label key {k!r}")
        eq.append((str(k), str(v)))
    reqs: list[Requirement] = []
    for expr in sel.get("matchExpressions") or []:
        reqs.append(_requirement(expr, _LABEL_OPS))
    return LabelSelector(tuple(sorted(eq)), tuple(reqs))


def _requirement(expr: Mapping[str, Any], ops: Mapping[str, int]) -> Requirement:
    key = str(expr.get("key") or "")
    op_name = expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    op = ops.get(str(op_name))
    if op is None:
        raise SelectorError(f"{op_name!r} is not a valid label selector operator")
    if not _QUALIFIED.match(key):
        raise SelectorError(f"invalid label key {key!r}")
    if op in (OP_IN, OP_NOT_IN):
        if not values:
            raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
        for v in values:
            if len(v) > 63 or not _VALUE.match(v):
                raise SelectorError(f"invalid label value {v!r}")
        return (key, op, frozenset(values))
    if op in (OP_EXISTS, OP_NOT_EXISTS):
        if values:
            raise SelectorError("values set must be empty for exists and does not exist")
        return (key, op, None)
    if len(values) != 1:
        raise SelectorError("for 'Gt', 'Lt' operators, exactly one value is required")
    try:
        bound = int(values[0])
    except ValueError:
        raise SelectorError(f"for 'Gt', 'Lt' operators, the value must be an integer: {values[0]!r}") from None
    return (key, op, bound)


# -- node selectors --------------------------------------------------------------------------------


class _Term:
    __slots__ = ("fields", "labels", "valid")

    def __init__(self, labels: tuple[Requirement, ...], fields: tuple[tuple[int, str], ...], valid: bool) -> None:
        self.labels = labels
        self.fields = fields
        self.valid = valid

    def match(self, node_labels: Mapping[str, str], node_name: str) -> bool:
        if not self.valid:
            return False
        for r in self.labels:
            if not _match_requirement(r, node_labels):
                return False
        for op, value in self.fields:
            if (node_name == value) != (op == OP_IN):
                return False
        return True


def _compile_term(term: Mapping[str, Any]) -> _Term | None:
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return None  # an empty term selects nothing
    try:
        reqs = tuple(_requirement(e, _NODE_OPS) for e in exprs)
        flds: list[tuple[int, str]] = []
        for f in fields:
            if f.get("key") != "metadata.name":
                raise SelectorError(f"not a valid field selector key: {f.get('key')!r}")
            values = f.get("values") or []
            op = f.get("operator")
            if op not in ("In", "NotIn") or len(values) != 1:
                raise SelectorError("matchFields supports In/NotIn with exactly one value")
            flds.append((OP_IN if op == "In" else OP_NOT_IN, str(values[0])))
    except SelectorError:
        return _Term((), (), False)
    return _Term(reqs, tuple(flds), True)


class NodeSelector:
    """A compiled v1.NodeSelector: a node matches when any term does. Invalid terms match nothing
    (upstream ignores parse errors for backwards compatibility)."""

    __slots__ = ("terms",)

    def __init__(self, terms: Sequence[Mapping[str, Any]] | None) -> None:
        compiled = [_compile_term(t) for t in terms or []]
        self.terms = tuple(t for t in compiled if t is not None)

    def matches(self, node: Mapping[str, Any]) -> bool:
        meta = node.get("metadata") or {}
        labels = meta.get("labels") or {}
        name = meta.get("name", "")
        for t in self.terms:
            if t.match(labels, name):
                return True
        return False


def node_selector_matches(selector: Mapping[str, Any] | None, node: Mapping[str, Any]) -> bool:
    """Whether `node` matches a v1.NodeSelector dict (None matches every node)."""
    if selector is None:
        return True
    return NodeSelector(selector.get("nodeSelectorTerms") or []).matches(node)


class PreferredSchedulingTerms:
    """The weighted preferred terms of a node affinity; `score(node)` sums the weights that match."""

    __slots__ = ("terms",)

    def __init__(self, terms: Sequence[Mapping[str, Any]]) -> None:
        out: list[tuple[int, _Term]] = []
        for t in terms:
            weight = int(t.get("weight") or 0)
            compiled = _compile_term(t.get("preference") or {})
            if weight == 0 or compiled is None or not compiled.valid:
                continue
            out.append((weight, compiled))
        self.terms = tuple(out)

    def score(self, node: Mapping[str, Any]) -> int:
        meta = node.get("metadata") or {}
        labels = meta.get("labels") or {}
        name = meta.get("name", "")
        return sum(w for w, t in self.terms if t.match(labels, name))


class RequiredNodeAffinity:
    """A pod's spec.nodeSelector plus its required node affinity (upstream GetRequiredNodeAffinity)."""

    __slots__ = ("node_selector", "selector")

    def __init__(self, pod: Mapping[str, Any]) -> None:
        spec = pod.get("spec") or {}
        ns = spec.get("nodeSelector") or {}
        self.selector = tuple((str(k), str(v)) for k, v in ns.items())
        required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                    .get("requiredDuringSchedulingIgnoredDuringExecution"))
        self.node_selector = NodeSelector(required.get("nodeSelectorTerms") or []) if required is not None else None

    def matches(self, node: Mapping[str, Any]) -> bool:
        if self.selector:
            labels = (node.get("metadata") or {}).get("labels") or {}
            for k, v in self.selector:
                if labels.get(k) != v:
                    return False
        if self.node_selector is not None:
            return self.node_selector.matches(node)
        return True


# -- taints and tolerations ------------------------------------------------------------------------


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """v1.Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return op == "Exists"


def tolerations_tolerate(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for t in tolerations:
        if tolerates(t, taint):
            return True
    return False


_NO_SCHEDULE_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


def find_untolerated_taint(taints: Sequence[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]],
                           effects: frozenset[str] = _NO_SCHEDULE_EFFECTS) -> Mapping[str, Any] | None:
    """The first taint with one of `effects` that no toleration tolerates (FindMatchingUntoleratedTaint
    with DoNotScheduleTaintsFilterFunc by default)."""
    for taint in taints:
        if taint.get("effect") not in effects:
            continue
        if not tolerations_tolerate(tolerations, taint):
            return taint
    return None
