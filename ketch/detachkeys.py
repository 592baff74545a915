"""Detach keys: the key sequence that leaves an attached container running (Docker's
``ctrl-p,ctrl-q``), recognised in the stdin stream as moby's escape proxy does."""

from ketch.errors import InvalidArgument

DEFAULT = "ctrl-p,ctrl-q"
_CTRL_SPECIAL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse(keys: str) -> bytes:
    """``"ctrl-p,ctrl-q"`` -> ``b"\\x10\\x11"``; Docker's error for anything else."""
    out = bytearray()
    for key in keys.split(","):
        key = key.strip()
        if len(key) == 1:
            out.append(ord(key))
        elif key.startswith("ctrl-") and len(key) == 6:
            c = key[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in _CTRL_SPECIAL:
                out.append(_CTRL_SPECIAL[c])
            else:
                raise InvalidArgument(f"Invalid detach keys ({keys}) provided")
        else:
            raise InvalidArgument(f"Invalid detach keys ({keys}) provided")
    return bytes(out)


class EscapeProxy:
    """Feed stdin through it; it holds back a partial match and reports a full one."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._matched = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to forward to the container, whether the detach sequence was typed)."""
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            if b == self.keys[self._matched]:
                self._matched += 1
                if self._matched == len(self.keys):
                    self._matched = 0
                    return bytes(out), True
                continue
            if self._matched:  # a false start: what was held back goes through after all
                out += self.keys[:self._matched]
                self._matched = 0
                if b == self.keys[0]:
                    self._matched = 1
                    continue
            out.append(b)
        return bytes(out), False
