"""Authentication: client certificates signed by the client CA, and bearer tokens from a token file.

Token file format (upstream --token-auth-file): CSV lines `token,user,uid[,"group1,group2"]`.
Every authenticated user may do everything until RBAC arrives (a later issue).
"""

from __future__ import annotations

import csv
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kijabi.machinery import x509subject


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: dict[str, list[str]] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = self.extra
        return out


ANONYMOUS = User("system:anonymous", groups=("system:unauthenticated",))


class TokenAuthenticator:
    def __init__(self) -> None:
        self._tokens: dict[str, User] = {}

    def add(self, token: str, user: User) -> None:
        self._tokens[token] = user

    def load_file(self, path: Path) -> None:
        with open(path, newline="") as f:
            for row in csv.reader(f):
                if len(row) < 2 or not row[0] or row[0].startswith("#"):
                    continue
                groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                self.add(row[0], User(row[1], row[2] if len(row) > 2 else "", groups + ("system:authenticated",)))

    def authenticate(self, token: str) -> User | None:
        for known, user in self._tokens.items():
            if hmac.compare_digest(known, token):
                return user
        return None


def user_from_peercert(cert: dict[str, Any] | None) -> User | None:
    """The user of a verified client certificate: CN is the name, O entries are the groups."""
    found = x509subject.user_of(cert)
    return User(found[0], groups=found[1]) if found else None
