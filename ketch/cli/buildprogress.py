"""How ``ketch build`` shows the daemon's build stream: ``--progress plain|tty|quiet|auto``.

plain   the classic builder's lines as docker's CLI prints them (jsonmessage)
tty     a live view in the manner of BuildKit's: one line per step with its state and
        time, the running step's last output lines under it (folded once it is done),
        redrawn in place::

            [+] Building 1.4s (3/4)
             => [1/4] FROM busybox                                   0.0s
             => CACHED [2/4] ENV A=1                                 0.0s
             => [3/4] RUN make                                       1.2s
             => => # cc -o app main.c
quiet   nothing (errors still go to stderr)
auto    tty on a terminal, else plain

``Steps`` turns the stream's text into steps (pure, tested on its own); ``TtyView``
draws frames of it. Both read only the ``stream`` texts the classic builder writes.
"""

import time

from ketch import fastjson
from ketch.cli import jsonmessage

_ARROW = " ---> "
_PATTERNS = None  # (step line, ANSI colour code): compiled by the tty view only, as re is slow to import


def _patterns():
    global _PATTERNS
    if _PATTERNS is None:
        import re
        _PATTERNS = (re.compile(r"Step (\d+)/(\d+) : (.*)"), re.compile(r"\x1b\[[0-9;]*m"))
    return _PATTERNS
SHOWN_OUTPUT = 6  # lines of a running step's output in the tty view


class Step:
    __slots__ = ("index", "total", "text", "state", "started", "ended", "output")

    def __init__(self, index: int, total: int, text: str, now: float) -> None:
        self.index, self.total, self.text = index, total, text
        self.state = "running"  # running | cached | done | error
        self.started, self.ended = now, None
        self.output: list[str] = []

    def elapsed(self, now: float) -> float:
        return (self.ended if self.ended is not None else now) - self.started


class Steps:
    """The build as steps, from the stream's texts (split into lines here)."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.start = clock()
        self.steps: list[Step] = []
        self.image_id = ""
        self.tags: list[str] = []
        self.notes: list[str] = []  # warnings and lines outside any step
        self.error = ""
        self.ended = None
        self._partial = ""

    @property
    def current(self) -> Step | None:
        return self.steps[-1] if self.steps else None

    def feed(self, text: str) -> None:
        data = self._partial + text
        *lines, self._partial = data.split("\n")
        for line in lines:
            self._line(line)

    def finish(self, error: str = "") -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = ""
        now = self.clock()
        self.ended = now
        self.error = error
        step = self.current
        if step is not None and step.ended is None:
            step.ended = now
            step.state = "error" if error else "done"

    def _line(self, line: str) -> None:
        step_re, ansi_re = _patterns()
        line = ansi_re.sub("", line)  # stderr comes in red; its reset may start the next line
        now = self.clock()
        match = step_re.fullmatch(line)
        step = self.current
        if match:
            if step is not None and step.ended is None:
                step.ended, step.state = now, step.state if step.state == "cached" else "done"
            self.steps.append(Step(int(match[1]), int(match[2]), match[3], now))
        elif line.startswith("Successfully built "):
            self.image_id = line.removeprefix("Successfully built ")
        elif line.startswith("Successfully tagged "):
            self.tags.append(line.removeprefix("Successfully tagged "))
        elif line.startswith("Removing intermediate container "):
            pass
        elif step is not None and (line + " ").startswith(_ARROW):  # the builder's own lines
            if line == _ARROW + "Using cache":
                step.state = "cached"
            elif not line.startswith(_ARROW + "Running in ") and step.ended is None:
                step.ended = now  # " ---> <image id>": the step is done
                if step.state != "cached":
                    step.state = "done"
        elif step is not None and step.ended is None:
            step.output.append(line)
        elif line:
            self.notes.append(line)


def _seconds(value: float) -> str:
    return f"{value:.1f}s"


class TtyView:
    """Frames of ``Steps`` for a terminal ``width`` columns wide."""

    def __init__(self, steps: Steps, width: int = 80) -> None:
        self.steps = steps
        self.width = max(width, 40)

    def frame(self, now: float | None = None) -> list[str]:
        s = self.steps
        now = s.clock() if now is None else now
        total = s.current.total if s.current else 0
        done = sum(1 for st in s.steps if st.ended is not None)
        elapsed = (s.ended if s.ended is not None else now) - s.start
        state = " FINISHED" if s.ended is not None and not s.error else ""
        out = [f"[+] Building {_seconds(elapsed)} ({done}/{total}){state}"]
        for st in s.steps:
            label = {"cached": "CACHED ", "error": "ERROR "}.get(st.state, "")
            out.append(self._row(f" => {label}[{st.index}/{st.total}] {st.text}", _seconds(st.elapsed(now))))
            if st.ended is None or st.state == "error":
                shown = st.output if st.state == "error" else st.output[-SHOWN_OUTPUT:]
                out += [self._clip(f" => => # {line}") for line in shown]
        if s.ended is not None and s.image_id and not s.error:
            out.append(self._row(" => exporting to image", "0.0s"))
            out.append(self._clip(f" => => writing image {s.image_id}"))
            out += [self._clip(f" => => naming to {tag}") for tag in s.tags]
        return out

    def _clip(self, text: str) -> str:
        return text if len(text) <= self.width else text[:self.width - 3] + "..."

    def _row(self, left: str, right: str) -> str:
        room = self.width - len(right) - 1
        if len(left) > room:
            left = left[:max(room - 3, 0)] + "..."
        return left.ljust(room) + " " + right


class TtyRenderer:
    """Draws ``TtyView`` frames in place: up over the last frame, each line cleared. With
    ``ticking`` a thread redraws every ``INTERVAL`` too, so the running step's time moves
    while it prints nothing (BuildKit's view does the same)."""

    INTERVAL = 0.1

    def __init__(self, out, width: int, clock=time.monotonic, ticking: bool = False) -> None:
        self.out = out
        self.steps = Steps(clock)
        self.view = TtyView(self.steps, width)
        self.clock = clock
        self.drawn = 0
        self.last = 0.0
        self._lock = None
        self._done = None
        if ticking:
            import threading
            self._lock = threading.Lock()
            self._done = threading.Event()
            threading.Thread(target=self._tick, daemon=True).start()

    def _tick(self) -> None:
        while not self._done.wait(self.INTERVAL):
            with self._lock:
                if not self._done.is_set():
                    self.draw()

    def feed(self, text: str) -> None:
        if self._lock is None:
            self._feed(text)
            return
        with self._lock:
            self._feed(text)

    def _feed(self, text: str) -> None:
        self.steps.feed(text)
        if self.clock() - self.last >= self.INTERVAL:
            self.draw()

    def draw(self) -> None:
        lines = self.view.frame()
        up = f"\x1b[{self.drawn}A" if self.drawn else ""
        body = "".join(f"\r\x1b[2K{line}\n" for line in lines)
        self.out.write(up + body + "\x1b[J")
        self.out.flush()
        self.drawn = len(lines)
        self.last = self.clock()

    def stop(self) -> None:
        """No more ticks (the thread ends at its next wake-up)."""
        if self._done is not None:
            with self._lock:
                self._done.set()

    def finish(self, error: str = "") -> None:
        self.stop()
        self.steps.finish(error)
        self.draw()
        for note in self.steps.notes:
            self.out.write(note + "\n")
        self.out.flush()


def stream_messages(resp):
    """The JSON messages of a build response, as they arrive."""
    for raw in jsonmessage.response_lines(resp):
        if raw.strip():
            yield fastjson.loads(raw)


def render_tty(resp, out, width: int, on_aux) -> None:
    """The tty view of a build; the stream's error is raised as BuildFailed after the
    last frame (with the step marked ERROR and its output shown). A FROM's pull shows as
    that step's output, its status lines without the bars."""
    renderer = TtyRenderer(out, width, ticking=True)
    try:
        _feed_tty(renderer, resp, on_aux)
    finally:
        renderer.stop()


def _feed_tty(renderer: TtyRenderer, resp, on_aux) -> None:
    for msg in stream_messages(resp):
        if msg.get("aux") is not None:
            on_aux(msg["aux"])
        elif msg.get("errorDetail") or msg.get("error"):
            detail = msg.get("errorDetail") or {}
            text = detail.get("message") or msg.get("error") or ""
            renderer.finish(text)
            raise BuildFailed(text, int(detail.get("code") or 0))
        else:
            text = tty_text(msg)
            if text:
                renderer.feed(text)
    renderer.finish()


def tty_text(msg: dict) -> str:
    """What a message adds to the tty view: a ``stream`` text, or a pull's status line
    (``latest: Pulling from library/busybox``; the bars are left out)."""
    if msg.get("stream"):
        return msg["stream"]
    if msg.get("status") and not msg.get("progress"):
        ident = f"{msg['id']}: " if msg.get("id") else ""
        return f"{ident}{msg['status']}\n"
    return ""


def render_plain(resp, out, terminal: bool, width: int, on_aux) -> None:
    """docker's jsonmessage display of the stream; a failure raises BuildFailed."""
    lines = _capture_code(jsonmessage.response_lines(resp))
    try:
        jsonmessage.display(lines, out, terminal, width, on_aux)
    except jsonmessage.StreamError as exc:
        raise BuildFailed(str(exc), lines.code) from None


class _capture_code:
    """The lines, noting the ``errorDetail.code`` of an error on the way (the exit code)."""

    def __init__(self, lines) -> None:
        self._lines = lines
        self.code = 0

    def __iter__(self):
        for raw in self._lines:
            if b'"errorDetail"' in raw:
                try:
                    self.code = int((fastjson.loads(raw).get("errorDetail") or {}).get("code") or 0)
                except (ValueError, AttributeError):
                    pass
            yield raw


class BuildFailed(Exception):
    """The stream's error: docker exits with its code, 1 when it has none."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code or 1
