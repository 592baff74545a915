"""ketch.api.filters: the `filters` query parameter as moby's filters.FromJSON reads it,
and the values moby checks before it lists containers or images (v26.1's words).

Unknown keys get moby's invalidFilter text ("invalid filter 'foo'", lower case
since moby 23; dockerd 20.10 still said "Invalid filter").
"""

import pytest

from ketch.api.filters import container_filter, get_bool, matches, parse
from ketch.apitypes.prune import match_kv_list
from ketch.errors import Internal, InvalidArgument

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
    assert match_kv_list(tuple(wanted), LABELS) is match


@pytest.mark.parametrize("values,match", [
    ([], True),  # no value: everything
    (["web-data"], True),  # exact
    (["web"], True),  # an unanchored regular expression: a substring
    (["^data"], False),
    (["^web-d.ta$"], True),
    (["db", "a$"], True),  # any of the values
    (["db", "("], False),  # a bad expression never matches
    (["(", "web-data"], True),  # ... and does not stop the others
])
def test_matches_is_args_match(values, match):
    assert matches(values, "web-data") is match


@pytest.mark.parametrize("text", ['{"name":"web"}', '{"name":[1]}', '{"label":{"a":"yes"}}'])
def test_values_must_be_strings(text):
    # neither of moby's two JSON shapes: its bare "invalid filter"
    with pytest.raises(InvalidArgument) as exc:
        parse(text, ALLOWED)
    assert str(exc.value) == "invalid filter"


def test_malformed_json_is_moby_text():
    with pytest.raises(InvalidArgument) as exc:
        parse("notjson", ALLOWED)
    assert str(exc.value) == "invalid filter"


def test_a_value_counts_once():
    assert parse('{"name":["a","a","b"]}', ALLOWED) == {"name": ["a", "b"]}


@pytest.mark.parametrize("values,expected", [
    (["true"], True), (["1"], True), (["false"], False), (["0"], False),
    (["true", "1"], True), (["0", "false"], False),
])
def test_get_bool(values, expected):
    assert get_bool({"dangling": values}, "dangling", None) is expected


def test_get_bool_default():
    assert get_bool({}, "dangling", False) is False


@pytest.mark.parametrize("values,message", [
    (["maybe"], "invalid filter 'dangling=[maybe]'"),
    (["true", "false"], "invalid filter 'dangling=[true false]'"),  # both: moby refuses
    ([], "invalid filter 'dangling'"),
    ([""], "invalid filter 'dangling=[]'"),
])
def test_get_bool_refusals(values, message):
    with pytest.raises(InvalidArgument) as exc:
        get_bool({"dangling": values}, "dangling", False)
    assert str(exc.value) == message


def test_container_filter_values():
    f = container_filter({"exited": ["0", "+137", "-1"], "status": ["exited", "created"],
                          "health": ["none"], "is-task": ["false"], "publish": ["80", "53/udp"],
                          "expose": ["8000-8002/tcp"]})
    assert f.exit_codes == {0, 137, -1}
    assert f.is_task is False and f.wants_all
    assert f.publish == {"80/tcp", "53/udp"} and f.expose == {"8000/tcp", "8001/tcp", "8002/tcp"}
    plain = container_filter({"name": ["x"]})
    assert (plain.exit_codes, plain.is_task, plain.publish, plain.expose, plain.wants_all) == (
        frozenset(), None, frozenset(), frozenset(), False)


@pytest.mark.parametrize("filters,kind,message", [
    ({"status": ["bogus"]}, InvalidArgument, "invalid filter 'status=bogus'"),
    ({"status": ["Running"]}, InvalidArgument, "invalid filter 'status=Running'"),
    ({"exited": ["abc"]}, InvalidArgument,
     "invalid filter 'exited=abc': strconv.Atoi: parsing \"abc\": invalid syntax"),
    ({"exited": [""]}, InvalidArgument, "invalid filter 'exited=': strconv.Atoi: parsing \"\": invalid syntax"),
    ({"exited": ["99999999999999999999"]}, InvalidArgument,
     "invalid filter 'exited=99999999999999999999': strconv.Atoi: parsing \"99999999999999999999\": "
     "value out of range"),
    ({"health": ["sick"]}, InvalidArgument, "unrecognized filter value for health: sick"),
    ({"is-task": ["maybe"]}, InvalidArgument, "invalid filter 'is-task=[maybe]'"),
    # moby's port checks return plain errors: 500s
    ({"publish": ["80:80"]}, Internal, "filter for 'publish' should not contain ':': 80:80"),
    ({"publish": ["abc"]}, Internal,
     "error while looking up for publish abc: strconv.ParseUint: parsing \"abc\": invalid syntax"),
    ({"expose": ["70000"]}, Internal,
     "error while looking up for expose 70000: strconv.ParseUint: parsing \"70000\": value out of range"),
    ({"expose": ["90-80"]}, Internal, "error while looking up for expose 90-80: invalid range specified for port: 90-80"),
    ({"expose": [""]}, Internal, "error while looking up for expose : empty string specified for ports"),
    ({"expose": ["+80"]}, Internal,
     "error while looking up for expose +80: strconv.ParseUint: parsing \"+80\": invalid syntax"),
    # moby's order: exited before status
    ({"status": ["bogus"], "exited": ["x"]}, InvalidArgument,
     "invalid filter 'exited=x': strconv.Atoi: parsing \"x\": invalid syntax"),
])
def test_container_filter_refusals(filters, kind, message):
    with pytest.raises(kind) as exc:
        container_filter(filters)
    assert str(exc.value) == message
