"""One call per key at a time: the first caller runs it, callers that arrive meanwhile
wait and share its result (or its exception). Concurrent pulls of images that share a
layer download that blob once."""

import threading
from typing import Callable, Generic, Hashable, TypeVar

T = TypeVar("T")


class _Call(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
        self.waiters = 0


class Group(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, _Call[T]] = {}

    def do(self, key: Hashable, fn: Callable[[], T]) -> tuple[T, bool]:
        """(result, shared): ``shared`` is True for a caller that waited on another's call."""
        with self._lock:
            call = self._calls.get(key)
            if call is not None:
                call.waiters += 1
                leader = False
            else:
                call = self._calls[key] = _Call()
                leader = True
        if not leader:
            call.done.wait()
            if call.error is not None:
                raise call.error
            return call.result, True  # type: ignore[return-value]
        try:
            call.result = fn()
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            with self._lock:
                del self._calls[key]
            call.done.set()
        return call.result, False

    def in_flight(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._calls
