"""api/mediatype.py: moby's CheckForJSON with Go's mime.ParseMediaType errors."""

from types import SimpleNamespace

import pytest

from ketch.api.mediatype import check_for_json
from ketch.errors import InvalidArgument


def _request(headers):
    return SimpleNamespace(headers={k.lower(): v for k, v in headers.items()})


@pytest.mark.parametrize("headers", [
    {"Content-Type": "application/json"}, {"Content-Type": "Application/JSON; charset=utf-8"},
    {"Content-Type": "application/json;"}, {},  # no type and no body
    {"Content-Length": "0"},
])
def test_accepted(headers):
    check_for_json(_request(headers))


@pytest.mark.parametrize("headers, message", [
    ({"Content-Type": "text/plain", "Content-Length": "2"},
     "unsupported Content-Type header (text/plain): must be 'application/json'"),
    ({"Content-Length": "2"}, "malformed Content-Type header (): mime: no media type"),
    ({"Content-Type": "application/", "Content-Length": "2"},
     "malformed Content-Type header (application/): mime: expected token after slash"),
    ({"Content-Type": "application json"}, "malformed Content-Type header (application json): "
                                           "mime: expected slash after first token"),
    ({"Content-Type": "application/json; charset"},
     "malformed Content-Type header (application/json; charset): mime: invalid media parameter"),
    ({"Transfer-Encoding": "chunked"}, "malformed Content-Type header (): mime: no media type"),
])
def test_refused_with_mobys_words(headers, message):
    with pytest.raises(InvalidArgument) as exc:
        check_for_json(_request(headers))
    assert str(exc.value) == message
