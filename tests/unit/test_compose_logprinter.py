"""compose's log prefixes, colours and line splitting (formatter.logConsumer)."""

import io

from ketch.compose import logprinter
from ketch.compose.logprinter import LogPrinter, display_name


def test_prefix_is_padded_to_the_longest_name_plus_one():
    out = io.StringIO()
    p = LogPrinter(out, color=False)
    p.register("web-1")
    p.register("db-1")
    p.log("db-1", "ready")
    p.log("web-1", "a\nb")
    assert out.getvalue() == "db-1   | ready\nweb-1  | a\nweb-1  | b\n"


def test_no_prefix_and_status():
    out = io.StringIO()
    p = LogPrinter(out, color=False, prefix=False)
    p.log("web-1", "hello")
    p.status("web-1", "exited with code 0")
    assert out.getvalue() == "hello\nweb-1 exited with code 0\n"


def test_colours_follow_the_rainbow():
    out = io.StringIO()
    p = LogPrinter(out, color=True)
    p.log("a", "x")
    p.log("b", "y")
    assert out.getvalue() == "\033[36ma  | \033[0mx\n\033[33mb  | \033[0my\n"


def test_timestamps_before_the_line():
    out = io.StringIO()
    p = LogPrinter(out, color=False, timestamps=True)
    p.log("a", "x")
    line = out.getvalue()
    assert line.startswith("a  | 20") and line.endswith(" x\n")


def test_display_name():
    labels = {"com.docker.compose.project": "proj", "com.docker.compose.service": "web",
              "com.docker.compose.container-number": "2"}
    assert display_name({"Names": ["/proj-web-2"], "Labels": labels}) == "web-2"
    assert display_name({"Names": ["/custom"], "Labels": labels}) == "custom"
    assert display_name({"Name": "/proj-web-2", "Config": {"Labels": labels}}) == "web-2"


def test_line_splitter_keeps_partial_lines_until_the_end():
    got = []
    s = logprinter._LineSplitter(got.append)
    s.feed(b"ab")
    s.feed(b"c\nde")
    assert got == ["abc"]
    s.close()
    assert got == ["abc", "de"]


def test_watch_opened_waits_for_the_attach_streams():
    import socket
    import threading
    import time
    from types import SimpleNamespace
    from ketch.compose.logprinter import LogTarget, watch
    attached = threading.Event()
    pairs = []

    class Client:
        def inspect_container(self, cid):
            return {"Config": {"Tty": True}}

        def attach(self, cid, stdin, stdout, stderr):
            time.sleep(0.2)  # the daemon answers late: up must not start meanwhile
            a, b = socket.socketpair()
            pairs.append(b)
            attached.set()
            return SimpleNamespace(sock=a, pending=b"")

        def close(self):
            pass

    ctx = SimpleNamespace(client=Client)
    w = watch(ctx, LogPrinter(io.StringIO(), color=False), [LogTarget("c1", "web-1")], source="attach")
    assert not attached.is_set()
    assert w.opened(timeout=5) and attached.is_set()
    w.stop()
    assert w.wait(timeout=5)
    for b in pairs:
        b.close()
