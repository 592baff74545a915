"""``X-Docker-Container-Path-Stat``: base64 of moby's ``PathStat`` JSON.

``mode`` is Go's ``os.FileMode``, not a Unix mode: the type is a high bit of its
own (``ModeDir`` 1<<31, ``ModeSymlink`` 1<<27, ...), setuid/setgid/sticky too;
clients test those bits (``docker cp`` checks ``ModeDir`` and ``ModeSymlink``).
``mtime`` is RFC 3339 with nanoseconds, trailing zeros dropped, as Go marshals it.
"""

import base64
import json
import stat
import time
from dataclasses import dataclass

GO_DIR = 1 << 31
GO_APPEND = 1 << 30
GO_SYMLINK = 1 << 27
GO_DEVICE = 1 << 26
GO_NAMED_PIPE = 1 << 25
GO_SOCKET = 1 << 24
GO_SETUID = 1 << 23
GO_SETGID = 1 << 22
GO_CHAR_DEVICE = 1 << 21
GO_STICKY = 1 << 20
GO_IRREGULAR = 1 << 19


def go_file_mode(st_mode: int) -> int:
    """Go's ``fs.FileMode`` for a ``stat`` mode (``os.fillFileStatFromSys``)."""
    mode = st_mode & 0o777
    kind = stat.S_IFMT(st_mode)
    mode |= {stat.S_IFBLK: GO_DEVICE, stat.S_IFCHR: GO_DEVICE | GO_CHAR_DEVICE,
             stat.S_IFDIR: GO_DIR, stat.S_IFIFO: GO_NAMED_PIPE, stat.S_IFLNK: GO_SYMLINK,
             stat.S_IFSOCK: GO_SOCKET}.get(kind, 0)
    if st_mode & stat.S_ISUID:
        mode |= GO_SETUID
    if st_mode & stat.S_ISGID:
        mode |= GO_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= GO_STICKY
    return mode


def rfc3339_nano(ns: int) -> str:
    """UTC, as Go's ``time.Time.MarshalJSON`` writes a daemon's time in UTC."""
    secs, frac = divmod(ns, 10**9)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


@dataclass(frozen=True)
class PathStat:
    name: str
    size: int
    mode: int  # Go FileMode
    mtime: str
    link_target: str

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & GO_DIR)

    @property
    def is_symlink(self) -> bool:
        return bool(self.mode & GO_SYMLINK)

    def to_json(self) -> dict:
        return {"name": self.name, "size": self.size, "mode": self.mode, "mtime": self.mtime,
                "linkTarget": self.link_target}

    def header(self) -> str:
        return base64.b64encode(json.dumps(self.to_json(), separators=(",", ":")).encode()).decode()

    @classmethod
    def from_header(cls, value: str) -> "PathStat":
        doc = json.loads(base64.b64decode(value))
        return cls(doc.get("name", ""), int(doc.get("size", 0)), int(doc.get("mode", 0)),
                   doc.get("mtime", ""), doc.get("linkTarget", ""))
