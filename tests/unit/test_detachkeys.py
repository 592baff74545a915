"""Detach keys: moby's term.ToBytes grammar and its escape proxy."""

import pytest

from ketch import detachkeys
from ketch.errors import InvalidArgument


@pytest.mark.parametrize("keys, want", [
    ("ctrl-p,ctrl-q", b"\x10\x11"),
    ("ctrl-a", b"\x01"),
    ("ctrl-Z", b"\x1a"),
    ("a,b", b"ab"),
    ("X", b"X"),
    ("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", b"\x00\x1b\x1c\x1d\x1e\x1f"),
    (" ctrl-x , y ", b"\x18y"),
])
def test_parse(keys, want):
    assert detachkeys.parse(keys) == want


@pytest.mark.parametrize("keys", ["foo", "ctrl-", "ctrl-1", "ctrl-!", "ctrl-ab", "a,,b", ""])
def test_parse_rejects_with_dockers_words(keys):
    with pytest.raises(InvalidArgument, match=r"^Invalid detach keys \(.*\) provided$"):
        detachkeys.parse(keys)


def _feed_all(proxy, chunks):
    out, detached = b"", False
    for chunk in chunks:
        data, detached = proxy.feed(chunk)
        out += data
        if detached:
            break
    return out, detached


@pytest.mark.parametrize("chunks, want", [
    ([b"hello"], (b"hello", False)),
    ([b"ab\x10\x11cd"], (b"ab", True)),
    ([b"ab\x10", b"\x11"], (b"ab", True)),           # split across reads
    ([b"\x10x"], (b"\x10x", False)),                  # a false start goes through
    ([b"\x10", b"x"], (b"\x10x", False)),             # ... even when split
    ([b"\x10\x10\x11"], (b"\x10", True)),             # a false start that restarts the match
    ([b"\x11\x10"], (b"\x11", False)),                # a trailing \x10 waits for the next read
])
def test_escape_proxy(chunks, want):
    assert _feed_all(detachkeys.EscapeProxy(b"\x10\x11"), chunks) == want


def test_escape_proxy_without_keys_passes_everything():
    assert detachkeys.EscapeProxy(b"").feed(b"\x10\x11") == (b"\x10\x11", False)
