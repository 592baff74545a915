"""The C monitor (ketch/monitor/cmonitor/monitor.c) on its own: no container, no root.

Each test builds the current source (gcc, as scripts/install.sh does) and runs the binary
the way the Python monitor's hand-over does: a launcher forks the "init" (a plain
process) and execs ketch-monitor with the fds, so the init is its child. The test plays
ketchd on a socketpair and the container on the output pipes, and checks what monitor.py
would do: frames, events byte for byte (protocol.Event.encode), the json-file log byte
for byte (logfile.JsonFileWriter), exit.json, the runtime's delete, robustness against
malformed frames.
"""

import contextlib
import fcntl
import gzip
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import tty

import pytest

from ketch.monitor import protocol as proto
from ketch.monitor.handover import SOURCE_DIR
from ketch.monitor import logfile

CFLAGS = ["-O2", "-Wall", "-Wextra", "-Werror", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong"]
LAUNCH = """
import os, sys
sep = sys.argv.index("--init")
init = sys.argv[sep + 1:]
pid = os.fork()
if pid == 0:  # the init holds none of the monitor's fds, as in a container
    os.closerange(3, 65536)
    os.execvp(init[0], init)
argv = [a.replace("{PID}", str(pid)) for a in sys.argv[1:sep]]
os.execv(argv[0], argv)
"""
FAKE_RUNTIME = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls"
if [ -e "$(dirname "$0")/fail" ]; then echo "  ketch-runtime: $(cat "$(dirname "$0")/fail")  " >&2; exit 1; fi
exit 0
"""


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    out = str(tmp_path_factory.mktemp("cmon") / "ketch-monitor")
    subprocess.run(["gcc", *CFLAGS, "-o", out, os.path.join(SOURCE_DIR, "monitor.c"), "-lz"], check=True)
    return out


def trace_bytes(records) -> bytes:
    out = b""
    for kind, stream, ns, data in records:
        out += (f"W {stream} {ns} {len(data)}\n".encode() + data if kind == "W"
                else f"F {stream} {ns}\n".encode())
    return out


def parse_trace(data: bytes):
    records, i = [], 0
    while i < len(data):
        end = data.index(b"\n", i)
        fields = data[i:end].decode().split()
        i = end + 1
        if fields[0] == "W":
            n = int(fields[3])
            records.append(("W", fields[1], int(fields[2]), data[i:i + n]))
            i += n
        else:
            records.append(("F", fields[1], int(fields[2]), b""))
    return records


def python_log(records, path: str, driver: str = "json-file") -> bytes:
    w = logfile.writer(path, proto.LogSpec(driver))
    for kind, stream, ns, data in records:
        if kind == "W":
            w.write(stream, data, ns)
        else:
            w.flush(stream, ns)
    w.close()
    with open(path, "rb") as f:
        return f.read()


class Monitor:
    """One ketch-monitor under test, with the test as its ketchd and its container."""

    def __init__(self, binary: str, tmp, init=("sleep", "1000"), tty_mode=False, kind="ketch",
                 extra=(), leftover: bytes = b"", partial: bytes = b"", stdin=True) -> None:
        self.dir = str(tmp)
        self.state_dir = os.path.join(self.dir, "state")
        os.makedirs(self.state_dir, exist_ok=True)
        self.log_path = os.path.join(self.dir, "json.log")
        self.trace_path = os.path.join(self.dir, "trace")
        self.runtime = os.path.join(self.dir, "runtime")
        with open(self.runtime, "w") as f:
            f.write(FAKE_RUNTIME)
        os.chmod(self.runtime, 0o755)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(os.path.join(self.state_dir, "monitor.sock"))
        self.listener.listen(8)
        self.sock, theirs = socket.socketpair()
        self.reader = proto.FrameReader()
        self.queues: dict[int, list[tuple[int, bytes]]] = {}  # frames read, by socket
        passed = [self.listener.fileno(), theirs.fileno()]
        argv = [binary, "--id", "cid", "--pid", "{PID}", "--state-dir", self.state_dir,
                "--log-path", self.log_path, "--listener", str(self.listener.fileno()),
                "--trace", self.trace_path, "--runtime-kind", kind]
        mine = []
        if tty_mode:
            master, self.slave = os.openpty()
            tty.setraw(self.slave)
            passed.append(master)
            argv += ["--pty", str(master), "--stdout", str(master)]
            mine.append(master)
            self.out = self.err = self.stdin = None
        else:
            r1, self.out = os.pipe()
            r2, self.err = os.pipe()
            passed += [r1, r2]
            argv += ["--stdout", str(r1), "--stderr", str(r2)]
            mine += [r1, r2]
            self.stdin = None
            if stdin:
                self.stdin, w = os.pipe()
                passed.append(w)
                argv += ["--stdin", str(w)]
                mine.append(w)
        spec = f"{theirs.fileno()}:1"
        for flag, data in (("left", leftover), ("partial", partial)):
            if data:
                fd = os.memfd_create(flag, 0)
                os.write(fd, data)
                passed.append(fd)
                mine.append(fd)
                if flag == "left":
                    spec += f":{fd}"
                else:
                    argv += ["--partial-stdout", str(fd)]
        argv += ["--client", spec, *extra, "--", self.runtime, "--root", "/r"]
        self.stderr = open(os.path.join(self.dir, "monitor.err"), "wb")
        self.proc = subprocess.Popen([sys.executable, "-c", LAUNCH, *argv, "--init", *init],
                                     pass_fds=passed, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        theirs.close()
        for fd in mine:
            os.close(fd)
        self.sock.settimeout(10)

    # -- the container's side ---------------------------------------------------------
    def write(self, data: bytes, stream: str = "stdout") -> None:
        fd = self.slave if self.out is None else (self.out if stream == "stdout" else self.err)
        os.write(fd, data)

    def close_outputs(self) -> None:
        for fd in (self.out, self.err):
            if fd is not None:
                os.close(fd)
        self.out = self.err = None

    # -- ketchd's side ------------------------------------------------------------------
    def send(self, data: bytes, sock=None) -> None:
        (sock or self.sock).sendall(data)

    def op(self, **doc) -> None:
        self.send(proto.control(doc))

    def next_frame(self, sock=None, reader=None, timeout=10.0) -> tuple[int, bytes]:
        sock, reader = sock or self.sock, reader or self.reader
        frames = self.queues.setdefault(sock.fileno(), [])
        deadline = time.monotonic() + timeout
        while not frames:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                raise EOFError
            frames += reader.feed(data)
        return frames.pop(0)

    def next_event(self, sock=None, reader=None) -> bytes:
        while True:
            stream, payload = self.next_frame(sock, reader)
            if stream == proto.CONTROL:
                return payload

    def output(self, n: int, sock=None, reader=None) -> bytes:
        """n bytes of output frames (stdout and stderr together)."""
        got = b""
        while len(got) < n:
            stream, payload = self.next_frame(sock, reader)
            assert stream in (proto.STDOUT, proto.STDERR), (stream, payload)
            got += payload
        return got

    def connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(os.path.join(self.state_dir, "monitor.sock"))
        s.settimeout(10)
        return s

    def finish(self, timeout=10.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self.stderr.close()

    def cleanup(self) -> None:
        if self.proc.poll() is None:  # a failed test: end the init too (by pid), then the monitor
            try:
                with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                    children = [int(pid) for pid in f.read().split()]
            except OSError:
                children = []
            for pid in children:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        self.listener.close()

    def log(self) -> bytes:
        with open(self.log_path, "rb") as f:
            return f.read()

    def calls(self) -> list[str]:
        try:
            with open(os.path.join(self.dir, "calls")) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def monitor_errors(self) -> str:
        with open(os.path.join(self.dir, "monitor.err"), errors="replace") as f:
            return f.read()


@pytest.fixture
def monitor(binary, tmp_path):
    made = []

    def make(**kw) -> Monitor:
        m = Monitor(binary, tmp_path / f"m{len(made)}", **kw)
        made.append(m)
        return m

    yield make
    for m in made:
        m.cleanup()


def end(m: Monitor, signal_number=15) -> proto.Event:
    """Kill the init; return the exited event after checking the whole exit sequence."""
    m.op(op="kill", signal=signal_number)
    m.close_outputs()
    payload = m.next_event()
    event = proto.Event.decode(payload)
    assert event.event == "exited", payload
    assert payload == event.encode()[proto.HEADER_SIZE:]
    with pytest.raises(EOFError):
        m.next_frame()
    assert m.finish() == 0, m.monitor_errors()
    with open(os.path.join(m.state_dir, "exit.json"), "rb") as f:
        assert f.read() == json.dumps(event.exit_doc()).encode()
    assert not os.path.exists(os.path.join(m.state_dir, "monitor.sock"))
    assert m.calls()[-1] == "--root /r delete --force cid"
    return event


def test_output_log_and_exit(monitor):
    m = monitor()
    m.write(b"hello\n")
    assert m.next_frame() == (proto.STDOUT, b"hello\n")
    m.write(b"oops\n", "stderr")
    assert m.next_frame() == (proto.STDERR, b"oops\n")
    event = end(m)
    assert (event.exit_code, event.oom_killed) == (143, False)
    assert len(event.finished_at) == 30  # format_ns: nine digits
    lines = [json.loads(line) for line in m.log().splitlines()]
    assert [(d["log"], d["stream"]) for d in lines] == [("hello\n", "stdout"), ("oops\n", "stderr")]


def test_exit_code_of_an_init_that_ended_before_the_exec(monitor):
    m = monitor(init=("sh", "-c", "exit 7"))
    time.sleep(0.2)  # the init is a zombie when the monitor starts, its SIGCHLD long gone
    m.close_outputs()
    event = proto.Event.decode(m.next_event())
    assert (event.event, event.exit_code) == ("exited", 7)
    assert m.finish() == 0


def test_drain_waits_for_the_output_after_the_exit(monitor):
    m = monitor()
    m.op(op="kill", signal=9)
    time.sleep(0.3)
    m.write(b"late line\nand a partial")
    m.close_outputs()
    event = proto.Event.decode(m.next_event())
    assert event.exit_code == 137
    assert m.finish() == 0
    logged = [json.loads(line)["log"] for line in m.log().splitlines()]
    assert logged == ["late line\n", "and a partial"]


def test_drain_gives_up_after_two_seconds(monitor):
    m = monitor()
    m.write(b"held")
    m.op(op="kill")
    start = time.monotonic()
    event = proto.Event.decode(m.next_event())  # the test still holds the pipes' write ends
    assert event.exit_code == 143
    assert 1.8 < time.monotonic() - start < 5
    assert m.finish() == 0
    assert m.log() == b""  # a partial line is flushed at the end of its stream only


def test_events_are_byte_compatible(monitor):
    m = monitor()
    m.op(op="subscribe")
    status = m.next_event()
    decoded = proto.Event.decode(status)
    assert (decoded.state, decoded.paused) == ("running", False) and decoded.pid > 0
    assert status == decoded.encode()[8:]
    m.op(op="pause", call=3)
    done = m.next_event()
    assert done == proto.Event("done", call=3).encode()[8:]
    m.op(op="subscribe")
    status = m.next_event()
    decoded = proto.Event.decode(status)
    assert decoded.paused and decoded.state == "running" and decoded.pid > 0
    assert status == decoded.encode()[8:]
    m.op(op="resume", call=4)
    assert m.next_event() == proto.Event("done", call=4).encode()[8:]
    with open(os.path.join(m.dir, "fail"), "w") as f:
        f.write('cannot "freeze" \u00e9 \x01')
    m.op(op="pause", call=5)
    assert m.next_event() == proto.Event("error", message='cannot "freeze" \u00e9 \x01',
                                         call=5).encode()[8:]
    m.op(op="subscribe")
    assert not proto.Event.decode(m.next_event()).paused
    assert m.calls()[:3] == ["--root /r pause cid", "--root /r resume cid", "--root /r pause cid"]
    end(m)


def test_cli_runtime_errors_read_like_cli_runtime(monitor):
    m = monitor(kind="cli")
    with open(os.path.join(m.dir, "fail"), "w") as f:
        f.write("container not running")
    m.op(op="resume", call=1)
    assert proto.Event.decode(m.next_event()).message == \
        "OCI runtime resume failed: ketch-runtime: container not running"
    end(m)


def test_reconnect_subscribe_and_stdin(monitor):
    m = monitor()
    late = m.connect()
    late_reader = proto.FrameReader()
    m.write(b"before subscribe\n")
    assert m.output(17) == b"before subscribe\n"
    late.sendall(proto.control({"op": "subscribe"}))
    status = proto.Event.decode(m.next_event(late, late_reader))
    assert (status.state, status.paused) == ("running", False)
    m.write(b"x\n")
    assert m.output(2, late, late_reader) == b"x\n"
    assert m.output(2) == b"x\n"
    # stdin: frames from any client, a frame split across sends, a big one, then EOF
    big = bytes(range(256)) * 1024
    late.sendall(proto.frame(proto.STDIN, b"abc"))
    frame = proto.frame(proto.STDIN, big)
    m.send(frame[:5])
    time.sleep(0.05)
    m.send(frame[5:100])
    sender = threading.Thread(target=m.send, args=(frame[100:],))  # stdin writes block
    sender.start()
    got = b""
    while len(got) < 3 + len(big):
        got += os.read(m.stdin, 1 << 20)
    sender.join()
    assert got == b"abc" + big
    m.send(proto.frame(proto.STDIN, b""))
    assert os.read(m.stdin, 10) == b""
    late.close()
    end(m)


def test_malformed_frames_do_not_stop_it(monitor):
    m = monitor()
    rng = random.Random(6)
    bad_payloads = [b"", b"{", b"}", b"[]", b"null", b"42", b'"kill"', b"{\"op\":}", b'{"op":"kill",}',
                    b'{"op":"launch"}', b'{"op":"kill","signal":"nine"}', b'{"op":"kill","signal":1e400}',
                    b'{"op":"resize","height":-1,"width":99999999999999999999999}',
                    b'{"op":"kill","signal":-9}', b'{"op":"kill","signal":99}',
                    b"[" * 100000, b'{"op":"' + b"k" * 70000 + b'"}', b'{"op":"kill"} trailing',
                    b'{"op":"kill\\u0000"}', b"\xff\xfe{", b'{"op":"resize","height":30,"width":80}',
                    b'{"op":"close_stdin","x":{"a":[1,2,{"b":null}]}}', b'{"op":"start"}']
    bad_payloads += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) for _ in range(200)]
    for payload in bad_payloads:
        m.send(proto.frame(proto.CONTROL, payload))
        m.send(proto.frame(0x42, payload))  # an unknown stream: skipped
    for seed in range(20):  # raw garbage, not even framed, each on a connection of its own
        with m.connect() as raw:
            raw.sendall(random.Random(seed).randbytes(2000))
    m.send(struct.pack(">BxxxI", proto.CONTROL, 2**31) + b"x" * 1000)  # huge: skipped, unread
    other = m.connect()  # that client is now stuck in a 2 GiB frame; another still works
    other_reader = proto.FrameReader()
    other.sendall(proto.control({"op": "subscribe"}))
    assert proto.Event.decode(m.next_event(other, other_reader)).state == "running"
    m.write(b"still logging\n")
    assert m.output(14, other, other_reader) == b"still logging\n"
    assert m.proc.poll() is None
    other.sendall(proto.control({"op": "kill", "signal": 9}))
    m.close_outputs()
    event = proto.Event.decode(m.next_event(other, other_reader))
    assert event.exit_code == 137
    assert m.finish() == 0
    assert b"still logging" in m.log()
    assert os.read(m.stdin, 10) == b""  # close_stdin did close it


def test_a_client_that_goes_away_is_dropped(monitor):
    m = monitor()
    gone = m.connect()
    gone.sendall(proto.control({"op": "subscribe"}))
    time.sleep(0.1)
    gone.close()
    for _ in range(50):
        m.write(b"y" * 1000 + b"\n")
    assert m.output(50 * 1001) == (b"y" * 1000 + b"\n") * 50
    end(m)


def test_handed_over_partial_line_and_frame(monitor):
    frame = proto.control({"op": "subscribe"})
    m = monitor(partial=b"begun in python, ", leftover=frame[:11])
    m.send(frame[11:])
    assert proto.Event.decode(m.next_event()).event == "status"
    m.write(b"ended in C\n")
    assert m.output(11) == b"ended in C\n"
    end(m)
    assert [json.loads(line)["log"] for line in m.log().splitlines()] == ["begun in python, ended in C\n"]


def test_tty(monitor):
    m = monitor(tty_mode=True)
    m.op(op="resize", height=33, width=101)
    m.write(b"from the terminal\r\n")
    assert m.output(19) == b"from the terminal\r\n"
    m.op(op="subscribe")  # a round trip: the resize before it has been done
    assert proto.Event.decode(m.next_event()).event == "status"
    rows, cols = struct.unpack("HHHH", fcntl.ioctl(m.slave, termios.TIOCGWINSZ, b"\0" * 8))[:2]
    assert (rows, cols) == (33, 101)
    m.send(proto.frame(proto.STDIN, b"typed"))
    m.op(op="close_stdin")
    got = b""
    while len(got) < 6:
        got += os.read(m.slave, 100)
    assert got == b"typed\x04"
    os.close(m.slave)  # the last slave: EIO on the master is the end of the output
    end(m)


def test_log_is_byte_identical_to_jsonfilewriter(monitor):
    """Differential: tricky output through the monitor; its trace (what it read, when)
    replayed through logfile.JsonFileWriter gives the same file byte for byte."""
    m = monitor()
    chunks = [b"partial ", b"line\nnext", b" \r\rcarriage\r\n", b"\xff\xfe invalid \xc3\x28 \xe2\x82 \xed\xa0\x80\n",
              b"\x00\x01\x1b[31mctl\x7f\n", "é€😀 \u2028\n".encode(), b"\xf0\x9f\x98", b"\x80 split emoji\n",
              b"L" * 20000 + b"\n", b"M" * 40000, b"tail\n", b'quotes " and \\ and / \t\x08\x0c\n',
              b"no newline at the end"]
    sent = b""
    for i, chunk in enumerate(chunks):
        m.write(chunk, "stderr" if i % 3 == 2 else "stdout")
        sent += chunk
        m.output(len(chunk))
        if i == 5:
            m.op(op="pause", call=1)
            m.next_event()
            m.op(op="resume", call=2)
            m.next_event()
    end(m)
    with open(m.trace_path, "rb") as f:
        records = parse_trace(f.read())
    assert b"".join(r[3] for r in records) == sent
    assert m.log() == python_log(records, os.path.join(m.dir, "python.log"))


@pytest.mark.parametrize("driver", ["json-file", "local"])
def test_replay_matches_the_python_writer_on_random_bytes(binary, tmp_path, driver):
    rng = random.Random(1)
    pieces = [bytes([b]) for b in range(256)] + [b"\n"] * 30 + [
        "é€😀".encode()[i:i + k] for i in range(9) for k in (1, 2, 3)] + [
        b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe0\x80", b"\xf0\x90\x80", b"\xef\xbf\xbf"]
    for case in range(150 if driver == "json-file" else 60):
        records, ns = [], rng.randrange(0, 2**62)
        for _ in range(rng.randrange(1, 10)):
            stream = rng.choice(["stdout", "stderr"])
            if rng.random() < 0.15:
                records.append(("F", stream, ns, b""))
                continue
            n = rng.choice([1, 7, 300, 16383, 16384, 20000, 65536])
            if rng.random() < 0.5:
                data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, n + 1)))[:65536]
            else:
                data = rng.randbytes(rng.randrange(0, n + 1))
            records.append(("W", stream, ns, data))
            ns += rng.choice([0, 1, 10, 1000, 10**9, 123456789])
        c_path = str(tmp_path / f"c{case}")
        subprocess.run([binary, "--replay-log", c_path, "--log-driver", driver], input=trace_bytes(records),
                       check=True)
        with open(c_path, "rb") as f:
            assert f.read() == python_log(records, str(tmp_path / f"p{case}"), driver), case


@pytest.mark.parametrize("answer,long_path", [(b"ok\n", False), (b"ok\n", True),
                                              (b"error no such thing\n", False)])
def test_delete_through_the_fork_server(monitor, tmp_path, answer, long_path):
    directory = tmp_path / ("d" * 100 if long_path else "d")
    directory.mkdir()
    path = str(directory / "forkserver.sock")
    assert (len(path) > 107) == long_path
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.chdir(directory):  # bind a long path by its short name
        server.bind("forkserver.sock")
    server.listen(1)
    line = '{"delete":{"id":"cid"}}\n'
    m = monitor(extra=("--delete-via", path, line))
    m.op(op="kill")
    m.close_outputs()
    server.settimeout(10)
    conn, _ = server.accept()
    conn.settimeout(10)
    assert conn.recv(100) == line.encode()
    conn.sendall(answer)
    conn.close()
    server.close()
    assert proto.Event.decode(m.next_event()).exit_code == 143
    assert m.finish() == 0
    assert m.calls() == ([] if answer == b"ok\n" else ["--root /r delete --force cid"])


def test_delete_falls_back_to_the_cli_without_a_fork_server(monitor, tmp_path):
    m = monitor(extra=("--delete-via", str(tmp_path / "absent.sock"), "{}\n"))
    end(m)  # checks that the runtime's CLI deleted it


def _log_files(directory) -> dict[str, bytes]:
    """Each file of a log directory by name, .gz ones decompressed."""
    out = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read()
        out[name] = gzip.decompress(data) if name.endswith(".gz") else data
    return out


@pytest.mark.parametrize("driver", ["json-file", "local"])
@pytest.mark.parametrize("max_size,max_file,compress", [
    (1, 1, False), (300, 1, False), (300, 2, False), (1000, 3, False), (700, 4, True), (2000, 2, True)])
def test_rotation_matches_the_python_writer(binary, tmp_path, max_size, max_file, compress, driver):
    """The C monitor rotates (and gzips) as logfile.JsonFileWriter does: the same files,
    the same entries in each."""
    rng = random.Random(max_size * 10 + max_file)
    records, ns = [], 10**18
    for _ in range(60):
        stream = rng.choice(["stdout", "stderr"])
        lines = b"".join(b"x" * rng.randrange(0, 200) + b"\n" for _ in range(rng.randrange(0, 6)))
        records.append(("W", stream, ns, lines + b"tail" * rng.randrange(0, 3)))
        ns += 1000
    records += [("F", "stdout", ns, b""), ("F", "stderr", ns, b"")]
    c_dir, p_dir = tmp_path / "c", tmp_path / "p"
    c_dir.mkdir()
    p_dir.mkdir()
    opts = ["--log-driver", driver, "--log-max-size", str(max_size), "--log-max-file", str(max_file)]
    subprocess.run([binary, "--replay-log", str(c_dir / "id-json.log"), *opts,
                    *(["--log-compress"] if compress else [])], input=trace_bytes(records), check=True)
    w = logfile.writer(str(p_dir / "id-json.log"), proto.LogSpec(driver, max_size, max_file, compress))
    for kind, stream, t, data in records:
        w.write(stream, data, t) if kind == "W" else w.flush(stream, t)
    w.close()
    python = _log_files(p_dir)
    assert len(python) == max_file
    assert _log_files(c_dir) == python
