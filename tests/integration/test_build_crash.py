"""A ketchd killed in the middle of a RUN (REVIEW12 #11): the step's container does not
outlive the restart (it ran on mounts the start-up sweep removes)."""

import time


def test_a_run_step_cut_short_by_a_crash_is_removed_at_start_up(fresh_daemon, tmp_path):
    d = fresh_daemon
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN --mount=type=cache,target=/c,sharing=private "
                                    "--mount=type=bind,target=/ctx sleep 60\n")
    build = d.popen_ketch("build", "--network", "none", str(ctx))
    try:
        seen = b""
        deadline = time.monotonic() + 60
        while b"Running in" not in seen and time.monotonic() < deadline:
            line = build.stdout.readline()
            if not line:
                break
            seen += line
        assert b"Running in" in seen, seen
        step = seen.split(b"Running in ")[1][:12].decode()
        d.proc.kill()  # no clean-up of any kind
        d.proc.wait()
        d.proc = None
    finally:
        build.kill()
        build.wait()
    d.start()  # the step container is swept before the API answers
    assert step not in d.ketch("ps", "-aq").stdout
    assert d.ketch("ps", "-aq", "--filter", "label=ketch.build.step").stdout == ""
