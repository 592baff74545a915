"""``--user`` resolution against the container's own /etc/passwd and /etc/group.

Docker resolves names in the daemon, from the container's rootfs, and adds the
supplementary groups that /etc/group lists for the user (as runc's user lookup does).
"""

from dataclasses import dataclass

from ketch.errors import InvalidArgument
from ketch.linux.userdb import read_entries


MAX_ID = 2**31 - 1  # runc's user package refuses ids beyond int32


@dataclass(frozen=True)
class ExecUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


def _read(root: str | int, path: str) -> list[list[str]]:
    """The entries of a user database inside ``root``; none when it is not a regular file."""
    return read_entries(root, path) or []


def resolve(rootfs: str | int, spec: str, group_add: list[str] = ()) -> ExecUser:
    """``rootfs``: the container's root, as a path or a directory descriptor."""
    user, _, group = (spec or "0").partition(":")
    passwd = _read(rootfs, "/etc/passwd")
    groups = _read(rootfs, "/etc/group")
    entry = next((p for p in passwd if len(p) >= 7 and (p[0] == user or p[2] == user)), None)
    if entry is None:
        if not user.isdigit():
            raise InvalidArgument(f"unable to find user {user}: no matching entries in passwd file")
        uid, gid, name, home = int(user), 0, None, "/"
    else:
        uid, gid, name, home = int(entry[2]), int(entry[3]), entry[0], entry[5] or "/"
    if group:
        g = next((g for g in groups if len(g) >= 3 and (g[0] == group or g[2] == group)), None)
        if g is None:
            if not group.isdigit():
                raise InvalidArgument(f"unable to find group {group}: no matching entries in group file")
            gid = int(group)
        else:
            gid = int(g[2])
    for value in (uid, gid):
        if not 0 <= value <= MAX_ID:
            raise InvalidArgument(f"uids and gids must be in range 0-{MAX_ID}")
    extra = []
    if name is not None and not group:
        extra = [int(g[2]) for g in groups if len(g) >= 4 and name in g[3].split(",")]
    for wanted in group_add:
        g = next((g for g in groups if len(g) >= 3 and (g[0] == wanted or g[2] == wanted)), None)
        if g is None and not wanted.isdigit():
            raise InvalidArgument(f"Unable to find group {wanted}: no matching entries in group file")
        extra.append(int(g[2]) if g else int(wanted))
    # moby's getUser puts the primary group first in the supplementary list, so `id`
    # inside a container shows "groups=0(root),10(wheel)".
    groups = [gid]
    for g in extra:
        if g not in groups:
            groups.append(g)
    return ExecUser(uid, gid, tuple(groups), home)
