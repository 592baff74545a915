"""Access records: what a request needs (distribution's appendAccessRecords), and the
protocol of an access controller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol


@dataclass(frozen=True, slots=True)
class Access:
    type: str  # "repository" or "registry"
    name: str
    action: str  # pull, push, delete, *, search

    def detail(self) -> dict[str, str]:
        """As distribution's auth.Access marshals into an error's detail."""
        return {"Type": self.type, "Class": "", "Name": self.name, "Action": self.action}


CATALOG = (Access("registry", "catalog", "*"),)
SEARCH = (Access("registry", "catalog", "search"),)


def for_request(method: str, name: str, mount_from: str | None = None) -> tuple[Access, ...]:
    """What a request on repository name needs: GET/HEAD pull; POST/PUT/PATCH pull and
    push; DELETE delete; a cross-repository mount also pull on the source."""
    if method in ("GET", "HEAD"):
        records = [Access("repository", name, "pull")]
    elif method in ("POST", "PUT", "PATCH"):
        records = [Access("repository", name, "pull"), Access("repository", name, "push")]
    elif method == "DELETE":
        records = [Access("repository", name, "delete")]
    else:
        records = []
    if mount_from:
        records.append(Access("repository", mount_from, "pull"))
    return tuple(records)


def scope(records: tuple[Access, ...]) -> str:
    """The challenge's scope: "type:name:action,action" per resource, space-separated."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for record in records:
        actions = grouped.setdefault((record.type, record.name), [])
        if record.action not in actions:
            actions.append(record.action)
    return " ".join(f"{kind}:{name}:{','.join(actions)}" for (kind, name), actions in grouped.items())


class Challenge(Exception):
    """401 with this WWW-Authenticate value."""

    def __init__(self, header: str) -> None:
        super().__init__(header)
        self.header = header


class AccessController(Protocol):
    def authorize(self, headers: Mapping[str, str], records: tuple[Access, ...]) -> str:
        """The user (or token subject) if the request may go on; Challenge if not."""


class AllowAll:
    """No auth configured: everybody may do everything."""

    def authorize(self, headers: Mapping[str, str], records: tuple[Access, ...]) -> str:
        return ""
