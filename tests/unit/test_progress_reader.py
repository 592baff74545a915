"""engine/images/progress: the transfers' progress, reported as moby's progress.Reader does,
in apitypes/progress messages."""

import io
import json

from ketch.apitypes import progress as prog
from ketch.engine.images.progress import ProgressReader, Reporter


def test_messages_are_encoded_as_mobys_stream():
    assert prog.encode(prog.message("Downloading from http://x")) == b'{"status":"Downloading from http://x"}\r\n'
    assert prog.encode(prog.stream("Loaded image: a:1\n")) == b'{"stream":"Loaded image: a:1\\n"}\r\n'
    assert prog.encode(prog.error("boom")) == b'{"errorDetail":{"message":"boom"},"error":"boom"}\r\n'
    doc = json.loads(prog.encode(prog.progress("Loading layer", "0123456789ab", 1_500_000, 3_000_000)))
    assert list(doc) == ["status", "progressDetail", "progress", "id"]  # JSONMessage's field order
    assert doc["progressDetail"] == {"current": 1_500_000, "total": 3_000_000}
    assert doc["progress"] == "[" + "=" * 25 + ">" + " " * 25 + "]    1.5MB/3MB"


def test_zero_fields_are_left_out_as_moby_s_omitempty():
    assert prog.progress("Importing", "", 0, 0) == {"status": "Importing", "progressDetail": {}}
    assert prog.progress("Importing", "", 2048, 0) == {
        "status": "Importing", "progressDetail": {"current": 2048}, "progress": " 2.048kB"}


def test_reader_reports_every_percent_and_always_the_end():
    seen = []
    clock = iter(range(0, 10_000)).__next__  # a second per call: never rate-limited
    data = bytes(1000)
    r = ProgressReader(io.BytesIO(data), len(data), seen.append, "", "Importing", clock=lambda: clock())
    while r.read(7):
        pass
    assert seen[-1] == prog.progress("Importing", "", 1000, 1000)
    assert 50 < len(seen) < 200  # about one per 1% (10 bytes), not one per read


def test_reader_is_rate_limited():
    seen = []
    data = bytes(10 << 20)
    r = ProgressReader(io.BytesIO(data), len(data), seen.append, "x", "Loading layer", clock=lambda: 0.0)
    while r.read(1 << 16):
        pass
    # the first, then the read that reaches the total and the end of the stream, as moby
    currents = [m["progressDetail"]["current"] for m in seen]
    assert currents == [currents[0], len(data), len(data)]


def test_reporter_takes_a_transfers_own_counts():
    # a registry download reports its offsets: one message per 512 KiB at most, the end always
    seen = []
    clock = iter(range(0, 10_000)).__next__
    r = Reporter(seen.append, 100 << 20, "aaa", "Downloading", clock=lambda: clock())
    for done in range(0, 2 << 20, 1 << 16):
        r.update(done)
    assert 2 <= len(seen) <= 4
    r.done()
    assert seen[-1] == prog.progress("Downloading", "aaa", 100 << 20, 100 << 20)
