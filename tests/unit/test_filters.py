"""ketch.api.filters: the `filters` query parameter as moby's filters.FromJSON reads it.

Unknown keys get moby's invalidFilter text ("invalid filter 'foo'", lower case
since moby 23; dockerd 20.10 still said "Invalid filter").
"""

import pytest

from ketch.api.filters import match_labels, parse
from ketch.errors import InvalidArgument

ALLOWED = ("label", "name", "status")

PARSED = [
    (None, {}),
    ("", {}),
    ("{}", {}),
    ('{"name":["web"]}', {"name": ["web"]}),
    ('{"name":["web","db"],"status":["running"]}', {"name": ["web", "db"], "status": ["running"]}),
    ('{"label":["a=b","c"]}', {"label": ["a=b", "c"]}),
    # the pre-1.22 map form
    ('{"label":{"a=b":true}}', {"label": ["a=b"]}),
    ('{"name":{"web":true,"db":true}}', {"name": ["web", "db"]}),
]


@pytest.mark.parametrize("text,expected", PARSED)
def test_parse(text, expected):
    assert parse(text, ALLOWED) == expected


@pytest.mark.parametrize("text,message", [
    ('{"foo":["a"]}', "invalid filter 'foo'"),
    ('{"name":["a"],"since":["x"]}', "invalid filter 'since'"),
])
def test_unknown_key(text, message):
    with pytest.raises(InvalidArgument) as exc:
        parse(text, ALLOWED)
    assert str(exc.value) == message


@pytest.mark.parametrize("text", ["xx", "[]", '"name"', "{"])
def test_not_a_filter_object(text):
    # dockerd answers 400 with Go's JSON error text; ketch's own text is fine
    with pytest.raises(InvalidArgument):
        parse(text, ALLOWED)


LABELS = {"com.example.role": "web", "tier": "", "empty": ""}


@pytest.mark.parametrize("wanted,match", [
    ([], True),
    (["com.example.role"], True),
    (["com.example.role=web"], True),
    (["com.example.role=db"], False),
    (["tier"], True),
    (["tier="], True),
    (["tier=x"], False),
    (["missing"], False),
    (["com.example.role", "tier"], True),  # every wanted label must match
    (["com.example.role", "missing"], False),
    (["com.example.role=web=x"], False),  # the value is everything after the first '='
])
def test_match_labels(wanted, match):
    assert match_labels(LABELS, wanted) is match
