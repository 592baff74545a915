"""What a Python monitor and an exec supervisor both do with the process they watch:
hear its exit through SIGCHLD on a selector, reap it, and read its output pipes."""

import errno
import os
import signal


class ChildExits:
    """SIGCHLD as a readable fd (``fd``) for a selector; ``reap`` collects every exited
    child (a subreaper inherits strays too) and reports the one that matters."""

    def __init__(self) -> None:
        self.fd, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self._w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def reap(self, pid: int) -> int | None:
        """Drain the wakeup pipe and reap; ``pid``'s exit code (Docker's: 128+N for a
        signal) if it was among the exited, else None."""
        try:
            os.read(self.fd, 512)
        except BlockingIOError:
            pass
        found = None
        while True:
            try:
                child, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return found
            if child == 0:
                return found
            if pid and child == pid:
                found = exit_code(status)


def exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def read_output(fd: int) -> bytes | None:
    """One read of an output pipe or terminal: b"" at its end (EIO from a terminal whose
    last slave is closed is that end too), None when nothing is there yet."""
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return None
    except OSError as exc:
        if exc.errno != errno.EIO:
            raise
        return b""
