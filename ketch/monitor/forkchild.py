"""One request of the fork server answered in a child of its own, so the server goes on
serving: the child runs the work, which answers "ok" its own way, or answers
"error <message>" for it, and exits. The server's SIGCHLD handler reaps it."""

import os
import socket
from typing import Callable


def answer_in_child(conn: socket.socket, listener: socket.socket, work: Callable[[], None]) -> None:
    if os.fork():
        return
    status = 1
    try:
        listener.close()
        work()
        status = 0
    except BaseException as exc:  # noqa: BLE001 - reported to the asker
        try:
            conn.sendall(f"error {exc}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(status)
