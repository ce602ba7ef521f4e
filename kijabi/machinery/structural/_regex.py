"""Go (RE2) regular expressions, as used by a CRD schema's `pattern`, run on Python's `re`.

`compile_go(pattern)` translates the RE2 syntax that Python spells differently (`\\z`, `$` meaning end
of text, `(?<name>`, `[[:alpha:]]`, `\\x{10FFFF}`, `\\Q...\\E`, a few `\\p{..}` classes) and rejects
what RE2 rejects (back references, look-around, possessive quantifiers, counts over 1000) with Go's
`error parsing regexp: <reason>: `<expr>`` text in `GoRegexError`. A pattern RE2 accepts but that has
no faithful Python translation (other Unicode classes) compiles to None: callers skip the check rather
than guess.
"""

from __future__ import annotations

import functools
import re

__all__ = ["GoRegexError", "compile_go"]


class GoRegexError(ValueError):
    """The pattern is not valid RE2; `str(exc)` is Go's `regexp.Compile` error text."""


class _Untranslatable(Exception):
    pass


_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_UNICODE_CLASSES = {
    "L": "[^\\W\\d_]",
    "Nd": "\\d",
    "N": "\\d",
}


def _err(reason: str, expr: str) -> GoRegexError:
    return GoRegexError(f"error parsing regexp: {reason}: `{expr}`")


def _translate(p: str) -> tuple[str, bool]:
    """The Python spelling of `p`, and whether it needs Unicode-aware classes."""
    out: list[str] = []
    unicode_classes = False
    i = 0
    n = len(p)
    depth = 0
    multiline = False
    in_class = False
    while i < n:
        c = p[i]
        if c == "\\":
            if i + 1 >= n:
                raise _err("trailing backslash at end of expression", "")
            d = p[i + 1]
            if d == "Q":
                end = p.find("\\E", i + 2)
                lit = p[i + 2 :] if end < 0 else p[i + 2 : end]
                out.append(re.escape(lit))
                i = n if end < 0 else end + 2
                continue
            if d.isdigit() and d != "0" and not in_class:
                raise _err("invalid escape sequence", p[i : i + 2])
            if d == "z":
                out.append("\\Z")
            elif d in "Z":
                raise _err("invalid escape sequence", p[i : i + 2])
            elif d == "x" and i + 2 < n and p[i + 2] == "{":
                end = p.find("}", i + 3)
                if end < 0:
                    raise _err("invalid escape sequence", p[i:])
                cp = int(p[i + 3 : end] or "0", 16)
                out.append(f"\\U{cp:08x}")
                i = end + 1
                continue
            elif d in "pP":
                if i + 2 < n and p[i + 2] == "{":
                    end = p.find("}", i + 3)
                    name = p[i + 3 : end] if end > 0 else ""
                    j = end + 1
                else:
                    name = p[i + 2 : i + 3]
                    j = i + 3
                cls = _UNICODE_CLASSES.get(name)
                if cls is None or d == "P" or in_class:
                    raise _Untranslatable
                out.append(cls)
                unicode_classes = True
                i = j
                continue
            else:
                out.append(c + d)
            i += 2
            continue
        if in_class:
            if c == "[" and p.startswith("[:", i):
                end = p.find(":]", i + 2)
                name = p[i + 2 : end] if end > 0 else ""
                neg = name.startswith("^")
                body = _POSIX.get(name.lstrip("^"))
                if body is None:
                    raise _err("invalid character class range", p[i : end + 2] if end > 0 else p[i:])
                if neg:
                    raise _Untranslatable
                out.append(body)
                i = end + 2
                continue
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            if p.startswith("[^", i):
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
            if i < n and p[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "(":
            depth += 1
            if p.startswith("(?", i):
                rest = p[i + 2 :]
                if rest.startswith(("=", "!", "<=", "<!", ">")):
                    raise _err("invalid or unsupported Perl syntax", p[i : i + 3])
                if rest.startswith("<"):
                    out.append("(?P<")
                    i += 3
                    continue
                if rest.startswith("P<"):
                    out.append("(?P<")
                    i += 4
                    continue
                m = re.match(r"([imsU-]*)(\)|:)", rest)
                if m is None:
                    raise _err("invalid or unsupported Perl syntax", p[i : i + 3])
                flags = m.group(1)
                if "U" in flags:
                    raise _Untranslatable
                if "m" in flags.split("-")[0]:
                    multiline = True
            out.append(c)
            i += 1
            continue
        if c == ")":
            depth -= 1
            if depth < 0:
                raise _err("unexpected )", p)
        if c in "*+?" and i + 1 < n and p[i + 1] in "*+":
            raise _err("invalid nested repetition operator", p[i : i + 2])
        if c == "{":
            m = re.match(r"\{(\d+)(,(\d*))?\}", p[i:])
            if m is not None:
                lo = int(m.group(1))
                hi = int(m.group(3)) if m.group(3) else lo
                if lo > 1000 or hi > 1000 or (m.group(3) and hi < lo):
                    raise _err("invalid repeat count", m.group(0))
        if c == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(c)
        i += 1
    if in_class:
        raise _err("missing closing ]", p[p.rfind("[") :])
    if depth > 0:
        raise _err("missing closing )", p)
    return "".join(out), unicode_classes


@functools.lru_cache(maxsize=1024)
def compile_go(pattern: str) -> re.Pattern[str] | None:
    """A Python regex matching like Go's `regexp.MustCompile(pattern).MatchString` (unanchored)."""
    try:
        text, unicode_classes = _translate(pattern)
    except _Untranslatable:
        return None
    try:
        # RE2's \d, \w, \s and \b are ASCII-only.
        return re.compile(text, 0 if unicode_classes else re.ASCII)
    except re.error as exc:
        msg = str(exc.msg)
        if "unbalanced parenthesis" in msg:
            raise _err("unexpected )", pattern) from None
        if "missing )" in msg:
            raise _err("missing closing )", pattern) from None
        if "nothing to repeat" in msg or "multiple repeat" in msg:
            raise _err("missing argument to repetition operator", pattern) from None
        if "bad character range" in msg:
            raise _err("invalid character class range", pattern) from None
        if "unterminated character set" in msg:
            raise _err("missing closing ]", pattern) from None
        if "bad escape" in msg:
            raise _err("invalid escape sequence", pattern) from None
        raise _err(msg, pattern) from None
