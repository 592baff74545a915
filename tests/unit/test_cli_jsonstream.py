"""The CLI's rendering of the daemon's JSON message stream (docker/cli's jsonmessage)."""

import io

import pytest

from ketch.cli.jsonstream import Display
from ketch.cli.main import StatusError

PROGRESS = {"status": "Loading layer", "progressDetail": {"current": 512, "total": 1024}, "id": "abc"}
DONE = {"status": "Loading layer", "progressDetail": {"current": 1024, "total": 1024}, "id": "abc"}


def _render(messages, terminal):
    out = io.StringIO()
    d = Display(out, terminal)
    for m in messages:
        d.message(m)
    return out.getvalue()


def test_not_a_terminal_prints_statuses_and_streams_only():
    text = _render([{"status": "Downloading from http://x/y"}, PROGRESS, {"status": ""},
                    {"stream": "Loaded image: a:1\n"}], terminal=False)
    assert text == "Downloading from http://x/y\n\nLoaded image: a:1\n"


def test_a_terminal_rewrites_each_ids_line():
    text = _render([PROGRESS, DONE, {"stream": "Loaded image: a:1\n"}], terminal=True)
    first, rest = text.split("\n", 1)
    assert first.endswith("abc: Loading layer [" + "=" * 25 + ">" + " " * 25 + "]     512B/1.024kB")
    assert "\x1b[1A" in rest and "[" + "=" * 50 + ">]" in rest
    assert rest.endswith("Loaded image: a:1\n")


def test_an_error_message_ends_the_command():
    with pytest.raises(StatusError) as err:
        _render([{"errorDetail": {"message": "boom"}, "error": "boom"}], terminal=False)
    assert (err.value.code, err.value.message) == (1, "boom")
