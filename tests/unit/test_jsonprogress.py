"""The API's JSON progress messages and the reader that reports them, as moby's."""

import io
import json

from ketch.api import jsonprogress
from ketch.engine.images.progress import Progress, ProgressReader


def test_messages_are_mobys():
    assert jsonprogress.status("Downloading from http://x") == b'{"status":"Downloading from http://x"}\r\n'
    assert jsonprogress.stream("Loaded image: a:1\n") == b'{"stream":"Loaded image: a:1\\n"}\r\n'
    assert jsonprogress.error("boom") == b'{"errorDetail":{"message":"boom"},"error":"boom"}\r\n'
    doc = json.loads(jsonprogress.progress(Progress("0123456789ab", "Loading layer", 1_500_000, 3_000_000)))
    assert list(doc) == ["status", "progressDetail", "progress", "id"]
    assert doc["progressDetail"] == {"current": 1_500_000, "total": 3_000_000}
    assert doc["progress"] == "[" + "=" * 25 + ">" + " " * 25 + "]    1.5MB/3MB"


def test_bar_edge_cases():
    assert jsonprogress.bar(0, 0) == ""
    assert jsonprogress.bar(2048, 0) == " 2.048kB"
    assert jsonprogress.bar(5, 4).endswith("]       5B")


def test_reader_reports_every_percent_and_always_the_end():
    seen = []
    clock = iter(range(0, 10_000)).__next__  # a second per call: never rate-limited
    data = bytes(1000)
    r = ProgressReader(io.BytesIO(data), len(data), seen.append, "", "Importing", clock=lambda: clock())
    while r.read(7):
        pass
    assert seen[-1] == Progress("", "Importing", 1000, 1000)
    assert 50 < len(seen) < 200  # about one per 1% (10 bytes), not one per read


def test_reader_is_rate_limited():
    seen = []
    data = bytes(10 << 20)
    r = ProgressReader(io.BytesIO(data), len(data), seen.append, "x", "Loading layer", clock=lambda: 0.0)
    while r.read(1 << 16):
        pass
    # the first, then the read that reaches the total and the end of the stream, as moby
    assert [p.current for p in seen] == [seen[0].current, len(data), len(data)]
