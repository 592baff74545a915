"""Exec sessions without a kernel: the process an exec runs, its environment, its
inspect document, and the request the fork server receives."""

import asyncio

from ketch.engine.containers.exec import ExecRecord, exec_env, exec_process
from ketch.engine.users import ExecUser
from ketch.monitor.protocol import ExecRequest, RuntimeSpec

BASE = {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["sleep", "1000"],
        "env": ["PATH=/bin", "HOSTNAME=h"], "cwd": "/srv", "noNewPrivileges": True,
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 200, "soft": 100}], "oomScoreAdj": 0,
        "consoleSize": {"height": 1, "width": 2}}


class _Container:
    id = "c" * 64
    name = "web"
    image = "busybox"
    config = {"User": "daemon", "WorkingDir": "/work", "Labels": {"a": "b"}}


def _record(**body) -> ExecRecord:
    async def make():
        return ExecRecord("e" * 64, _Container(), {"Cmd": ["sh", "-c", "x"], **body}, ["A=1"], b"\x10\x11")
    return asyncio.run(make())


def test_env_is_the_daemons_then_the_containers_then_the_execs():
    env = exec_env(["PATH=/custom", "FOO=c", "KEEP=1"], "host", True, ["FOO=e", "NEW=2", "KEEP"])
    assert env == ["PATH=/custom", "HOSTNAME=host", "TERM=xterm", "FOO=e", "NEW=2"]
    assert "TERM=xterm" not in exec_env([], "host", False, [])


def test_the_process_is_the_containers_with_the_execs_changes():
    rec = _record(Tty=True, ConsoleSize=[30, 100], WorkingDir="/tmp")
    proc = exec_process(BASE, rec, ExecUser(1000, 1000, (44,), "/"), ["CAP_A", "CAP_B"])
    assert proc["args"] == ["sh", "-c", "x"] and proc["env"] == ["A=1"]
    assert proc["terminal"] is True and proc["consoleSize"] == {"height": 30, "width": 100}
    assert proc["cwd"] == "/tmp"
    assert proc["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [44]}
    # everything else is the container's own
    for key in ("capabilities", "rlimits", "noNewPrivileges", "oomScoreAdj"):
        assert proc[key] == BASE[key]
    assert BASE["args"] == ["sleep", "1000"]  # not modified in place


def test_privileged_widens_only_the_capabilities():
    proc = exec_process(BASE, _record(Privileged=True), None, ["CAP_A", "CAP_B"])
    assert proc["capabilities"] == {k: ["CAP_A", "CAP_B"] for k in
                                    ("bounding", "effective", "permitted", "inheritable")}
    assert proc["user"] == BASE["user"] and "consoleSize" not in proc
    assert proc["noNewPrivileges"] is True


def test_inspect_document_before_start():
    rec = _record(AttachStdout=True)
    assert rec.user == "daemon" and rec.working_dir == "/work"  # the container's, as moby
    assert rec.to_docker() == {
        "ID": "e" * 64, "Running": False, "ExitCode": None,
        "ProcessConfig": {"tty": False, "entrypoint": "sh", "arguments": ["-c", "x"],
                          "privileged": False, "user": "daemon"},
        "OpenStdin": False, "OpenStderr": False, "OpenStdout": True, "CanRemove": False,
        "ContainerID": "c" * 64, "DetachKeys": "EBE=", "Pid": 0}


def test_exec_request_round_trip():
    req = ExecRequest("e", "c", "/run/rt", "/run/c", {"args": ["true"]}, True, RuntimeSpec())
    import json
    line = json.loads(req.to_line())
    assert ExecRequest.from_json(line["exec"]) == req


def test_create_publishes_docker_shaped_events_and_refuses_inactive_containers():
    import pytest
    from ketch import errors
    from ketch.engine.containers.exec import ExecService
    from ketch.engine.events import EventBus

    class State:
        paused = False
        restarting = False

    class Running(_Container):
        running = True
        state = State()
        config = {**_Container.config, "Env": ["X=1"], "Hostname": "h"}
        host_config = {}

    class Registry:
        def __init__(self, c):
            self.c = c

        def get(self, ref):
            return self.c

    bus = EventBus()
    seen = []
    bus.subscribe(seen.append)
    c = Running()

    async def scenario():
        svc = ExecService(Registry(c), None, bus, None, None)
        eid = svc.create("web", {"Cmd": ["sh", "-c", "x"]})
        svc._ended(svc.get(eid), 3)
        svc.create("web", {"Cmd": ["true"]})
        return svc, eid
    svc, eid = asyncio.run(scenario())
    assert [(e.type, e.action, e.actor_id) for e in seen] == [
        ("container", "exec_create: sh -c x", c.id), ("container", "exec_die", c.id),
        ("container", "exec_create: true ", c.id)]  # moby: entrypoint + " " + args
    assert seen[0].attributes == {"a": "b", "execID": eid, "image": "busybox", "name": "web"}
    assert seen[1].attributes["exitCode"] == "3"
    assert svc.get(eid).env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                "HOSTNAME=h", "X=1"]
    from ketch.engine.events import Event
    bus.publish(Event("container", "die", "other" * 8))
    assert svc.get(eid)  # another container's end leaves this one's execs
    bus.publish(Event("container", "die", c.id))
    with pytest.raises(errors.NotFound, match=f"No such exec instance: {eid}"):
        svc.get(eid)  # gone with its container's run, as moby's cleanup unregisters them
    c.state.paused = True
    with pytest.raises(errors.Conflict, match="Container web is paused, unpause the container before exec"):
        svc.create("web", {"Cmd": ["true"]})
    c.state.paused, Running.running = False, False
    with pytest.raises(errors.Conflict, match=f"container {c.id} is not running"):
        svc.create("web", {"Cmd": ["true"]})


def test_supervisor_survives_a_dropped_connection_and_a_bad_terminal_size():
    """A connection dropped earlier in the same select batch, or a size no tty takes, must
    not end the supervisor (its pipes would close and kill the exec'd process)."""
    import os
    from ketch.monitor import execsession
    from ketch.monitor import protocol as proto
    session = execsession.ExecSupervisor.__new__(execsession.ExecSupervisor)
    session.conn = None
    session._on_conn()  # returns: nothing to read from
    master, slave = os.openpty()
    try:
        session.pty_fd, session.exit_code = master, None
        session._on_op(proto.Op(proto.RESIZE, height=-1, width=70000))
        session._on_op(proto.Op(proto.RESIZE, height=30, width=100))
        import fcntl
        import struct
        import termios
        rows, cols = struct.unpack("HHHH", fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8))[:2]
        assert (rows, cols) == (30, 100)
    finally:
        os.close(master)
        os.close(slave)


def test_resize_refuses_what_a_terminal_cannot_take():
    import pytest
    from ketch import errors
    from ketch.engine.containers.exec import ExecService

    class Rec:
        running, handle = True, object()

    from ketch.engine.events import EventBus
    svc = ExecService(None, None, EventBus(), None, None)
    svc.get = lambda eid: Rec()
    with pytest.raises(errors.InvalidArgument, match="invalid terminal size: -1x80"):
        asyncio.run(svc.resize("x", -1, 80))


def test_a_resize_while_the_start_is_under_way_waits_for_the_process():
    """Running is true from the start request on, before the supervisor has the process:
    a resize in between waited for nothing and answered 409 "not running" (8 in 25 runs of
    test_resize_and_console_size under load). It waits for the start, as moby's does."""
    from ketch.engine.containers.exec import ExecService
    from ketch.engine.events import EventBus
    from ketch.monitor import protocol as proto

    class Handle:
        sent: list = []

        async def send_op(self, op):
            self.sent.append(op)

    rec = _record(Tty=True)
    svc = ExecService(None, None, EventBus(), None, None)
    svc.get = lambda eid: rec

    async def scenario():
        rec.running = True  # start() has begun; _launch has not set the handle yet
        resize = asyncio.ensure_future(svc.resize(rec.id, 33, 99))
        await asyncio.sleep(0.01)
        assert not resize.done()
        rec.handle = Handle()
        rec.started.set()
        await resize
        return rec.handle.sent

    sent = asyncio.run(scenario())
    assert [(op.op, op.height, op.width) for op in sent] == [(proto.RESIZE, 33, 99)]


def test_the_supervisor_closes_after_ketchd_so_a_late_op_never_loses_the_exit(tmp_path):
    """An op ketchd sends as the process ends (a resize) must not find the supervisor's
    socket closed: that write would fail and close ketchd's side before it reads 'exited'."""
    import signal
    import socket
    import threading
    from ketch.monitor import protocol as proto
    from ketch.monitor.execsession import ExecSupervisor
    ketchd, theirs = socket.socketpair()
    req = ExecRequest("e" * 64, "c" * 64, str(tmp_path), str(tmp_path), {"args": ["true"]})
    sup = ExecSupervisor(req, theirs)
    try:
        sup.exit_code = 3
        finishing = threading.Thread(target=sup.finish)
        finishing.start()
        received = b""
        while chunk := ketchd.recv(65536):  # to the supervisor's end of writing
            received += chunk
        assert proto.FrameReader().feed(received) == [
            (proto.CONTROL, proto.Event(proto.EXITED, exit_code=3).encode()[proto.HEADER_SIZE:])]
        ketchd.sendall(proto.Op(proto.RESIZE, height=1, width=1).encode())  # EPIPE if closed
        ketchd.close()
        finishing.join(10)
        assert not finishing.is_alive() and sup.conn is None
    finally:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        ketchd.close()


def test_an_output_queue_holds_its_producer_back_past_its_limit_and_never_after_close():
    from ketch.engine.containers.attach import OutputQueue

    async def scenario():
        q = OutputQueue(True, False)
        q.LIMIT = 10
        assert q.offer(b"12345678", 1, b"5678") is None
        assert q.offer(b"ignored-stderr-frame", 2, b"x") is None  # not asked for: not queued
        wait = q.offer(b"abcdefgh", 1, b"efgh")
        assert wait is not None and q.queued == 16
        waiting = asyncio.ensure_future(wait)
        await asyncio.sleep(0)
        assert not waiting.done()
        assert (await q.get())[0] == b"12345678"  # back under the limit: the producer goes on
        await asyncio.wait_for(waiting, 1)
        q.close()
        assert q.offer(b"x" * 100, 1, b"x") is None and q.queued == 8  # dropped after the end
        assert (await q.get())[0] == b"abcdefgh" and await q.get() is None
    asyncio.run(scenario())
