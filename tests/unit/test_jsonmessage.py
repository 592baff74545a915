"""apitypes/progress and cli/jsonmessage: Docker's progress messages and their rendering."""

import io
import json

import pytest

from ketch.apitypes import progress as prog
from ketch.cli import jsonmessage


def test_progress_string_is_moby_s():
    # moby's JSONProgress.String at width 200 (not a terminal): 50-wide bar, HumanSize (4 digits)
    assert prog.progress_string(1_234_567, 3_400_000) == (
        "[==================>                                ]  1.235MB/3.4MB")
    assert prog.progress_string(0, 0) == ""
    assert prog.progress_string(5000, 0) == "     5kB"
    assert prog.progress_string(10, 5) == "[==================================================>]      10B"
    # narrow terminal: no bar
    assert prog.progress_string(1_000_000, 2_000_000, width=80) == "     1MB/2MB"
    # time left when the start is known and there is room
    assert prog.progress_string(50, 100, start=100, width=200, now=110).endswith(" 10s")


def lines(*msgs):
    return [json.dumps(m).encode() for m in msgs]


PULL = lines(
    prog.message("Pulling from library/busybox", "latest"),
    prog.status("Pulling fs layer", "aaa"),
    prog.status("Pulling fs layer", "bbb"),
    prog.progress("Downloading", "aaa", 500, 1000),
    prog.status("Pull complete", "aaa"),
    prog.message("Digest: sha256:x"),
    prog.message("Status: Downloaded newer image for busybox:latest"),
)


def test_plain_output_drops_the_bars():
    out = io.StringIO()
    jsonmessage.display(PULL, out, terminal=False)
    assert out.getvalue() == (
        "latest: Pulling from library/busybox\naaa: Pulling fs layer\nbbb: Pulling fs layer\n"
        "aaa: Pull complete\nDigest: sha256:x\nStatus: Downloaded newer image for busybox:latest\n")


def test_terminal_output_rewrites_each_layer_line_in_place():
    out = io.StringIO()
    jsonmessage.display(PULL, out, terminal=True, width=200)
    text = out.getvalue()
    # the layer lines: a new line each, then cursor up to the line, cleared, rewritten, back down
    assert text.startswith("latest: Pulling from library/busybox\n"
                           "\n\x1b[1A\x1b[2K\raaa: Pulling fs layer \r\x1b[1B")
    assert "\x1b[2A\x1b[2K\raaa: Downloading [=========================>" in text
    assert "\x1b[2A\x1b[2K\raaa: Pull complete \r\x1b[2B" in text
    assert text.endswith("Digest: sha256:x\nStatus: Downloaded newer image for busybox:latest\n")


def test_an_error_message_ends_the_stream_and_aux_goes_to_its_callback():
    seen = []
    out = io.StringIO()
    with pytest.raises(jsonmessage.StreamError, match="^manifest unknown$"):
        jsonmessage.display(lines(prog.aux({"Tag": "1"}), prog.error("manifest unknown"),
                                  prog.status("never shown")), out, False, on_aux=seen.append)
    assert seen == [{"Tag": "1"}] and out.getvalue() == ""


LOAD = lines(prog.progress("Loading layer", "abc", 512, 1024), prog.progress("Loading layer", "abc", 1024, 1024),
             prog.stream("Loaded image: a:1\n"))


def test_load_on_a_terminal_rewrites_its_layer_line_then_prints_the_stream():
    out = io.StringIO()
    jsonmessage.display(LOAD, out, terminal=True)
    text = out.getvalue()
    assert text.startswith("\n\x1b[1A\x1b[2K\rabc: Loading layer [" + "=" * 25 + ">" + " " * 25
                           + "]     512B/1.024kB\r\x1b[1B")
    assert "\x1b[1A\x1b[2K\rabc: Loading layer [" + "=" * 50 + ">]" in text
    assert text.endswith("Loaded image: a:1\n")


def test_import_off_a_terminal_prints_statuses_and_streams_only():
    out = io.StringIO()
    jsonmessage.display(lines(prog.message("Downloading from http://x/y"),
                              prog.progress("Importing", "", 5, 10), prog.message(""),
                              prog.message("sha256:abc")), out, terminal=False)
    assert out.getvalue() == "Downloading from http://x/y\n\nsha256:abc\n"


def test_import_on_a_terminal_rewrites_one_line_without_an_id():
    out = io.StringIO()
    jsonmessage.display(lines(prog.progress("Importing", "", 5, 10), prog.progress("Importing", "", 10, 10),
                              prog.message("")), out, terminal=True)
    assert out.getvalue().count("\x1b[2K\rImporting [") == 2 and "\x1b[1A" not in out.getvalue()


class _Resp:
    def __init__(self, *chunks):
        self._chunks = chunks

    def chunks(self):
        return iter(self._chunks)


def test_render_splits_the_response_in_lines_and_an_error_ends_the_command(capsys):
    from ketch.cli.main import StatusError
    resp = _Resp(b'{"stream":"Loaded ', b'image: a:1\\n"}\r\n{"error', b'":"boom","errorDetail":{"message":"boom"}}')
    with pytest.raises(StatusError) as err:
        jsonmessage.render(resp)
    assert (err.value.code, err.value.message) == (1, "boom")
    assert capsys.readouterr().out == "Loaded image: a:1\n"
