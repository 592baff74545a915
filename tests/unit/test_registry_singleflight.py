"""One download per blob however many threads ask; content verified while it streams."""

import hashlib
import threading
import time

import pytest

from ketch.image.verify import VerificationFailed, Verifier
from ketch.registry.client.singleflight import Group


def test_concurrent_callers_share_one_call():
    group, calls, release = Group(), [], threading.Event()

    def download():
        calls.append(1)
        release.wait(5)
        return "blob"

    results = []
    threads = [threading.Thread(target=lambda: results.append(group.do("sha256:x", download)))
               for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while not group.in_flight("sha256:x") and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.05)  # let the others queue up behind the first
    release.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1
    assert sorted(results) == [("blob", False)] + [("blob", True)] * 7
    assert not group.in_flight("sha256:x")
    # once done, the next call runs again (a cache is the content store's job)
    assert group.do("sha256:x", download) == ("blob", False) and len(calls) == 2


def test_an_error_reaches_every_waiter_and_is_not_kept():
    group, release = Group(), threading.Event()

    def failing():
        release.wait(5)
        raise RuntimeError("connection reset")

    errors = []

    def call():
        try:
            group.do("k", failing)
        except RuntimeError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    release.set()
    for t in threads:
        t.join(5)
    assert errors == ["connection reset"] * 3
    assert group.do("k", lambda: 1) == (1, False)


def test_verifier():
    data = b"some layer"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    v = Verifier(digest, len(data))
    v.update(data[:4])
    v.update(data[4:])
    v.verify()
    bad = Verifier(digest, len(data), what="image config")
    bad.update(b"other byte")
    with pytest.raises(VerificationFailed, match=f"^image config verification failed for digest {digest}$"):
        bad.verify()
    over = Verifier(digest, 3)
    with pytest.raises(VerificationFailed):  # refused as soon as it passes the size
        over.update(data)
    short = Verifier(digest, len(data) + 1)
    short.update(data)
    with pytest.raises(VerificationFailed):
        short.verify()
    sha512 = "sha512:" + hashlib.sha512(data).hexdigest()
    v = Verifier(sha512)
    v.update(data)
    v.verify()
