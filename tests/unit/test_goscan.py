"""Go's encoding/json syntax errors, checked against dockerd: each body below was POSTed to
/containers/create of a real dockerd (20.10, go1.19; the scanner is unchanged since) and its
message recorded. moby 26 prefixes them with "invalid JSON: " (runconfig.invalidJSONError).

gojson.parse_value was also fuzzed against go1.19's json.Decoder (Decode, then More) on
60,000 mutated bodies with no difference; the cases it found are below."""

import pytest

from ketch.apitypes import container as api
from ketch.apitypes.goscan import quote_char, syntax_error
from ketch.errors import InvalidArgument

DOCKERD = [
    (b"{bad", "invalid character 'b' looking for beginning of object key string"),
    (b'{"Image":"busybox"', "unexpected EOF"),
    (b'{"Image":"busybox",}', "invalid character '}' looking for beginning of object key string"),
    (b"nul", "unexpected EOF"),
    (b'{"Image"', "unexpected EOF"),
    (b'{"Image":', "unexpected EOF"),
    (b'{"Image":"busy', "unexpected EOF"),
    (b'{"Image" "x"}', "invalid character '\"' after object key"),
    (b'{"Image":"b"]', "invalid character ']' after object key:value pair"),
    (b'{"Env":["a" "b"]}', "invalid character '\"' after array element"),
    (b'{"Image":tru}', "invalid character '}' in literal true (expecting 'e')"),
    (b'{"Image":-}', "invalid character '}' in numeric literal"),
    (b'{"Image":01}', "invalid character '1' after object key:value pair"),
    (b'{"Image":1.}', "invalid character '}' after decimal point in numeric literal"),
    (b'{"Image":"\\x"}', "invalid character 'x' in string escape code"),
    (b'{"Image":"\\u12"}', "invalid character '\"' in \\u hexadecimal character escape"),
    (b'{"Image":"a\tb"}', "invalid character '\\t' in string literal"),
]


@pytest.mark.parametrize("body, message", DOCKERD)
def test_syntax_errors_are_gos(body, message):
    assert syntax_error(body) == message
    with pytest.raises(InvalidArgument) as exc:
        api.decode_create(body)
    assert str(exc.value) == "invalid JSON: " + message


@pytest.mark.parametrize("body, message", [
    (b"", "EOF"), (b" \n", "EOF"),
    (b'{"a":NaN}', "invalid character 'N' looking for beginning of value"),
    (b'{"a":-Infinity}', "invalid character 'I' in numeric literal"),
    (b'{"a":1e}', "invalid character '}' in exponent of numeric literal"),
    (b'{"a":1e+x}', "invalid character 'x' in exponent of numeric literal"),
    (b"\xef\xbb\xbf{}", "invalid character '\u00ef' looking for beginning of value"),  # a BOM
    (b"{'a':1}", "invalid character '\\'' looking for beginning of object key string"),
    (b'{"a":fals}', "invalid character '}' in literal false (expecting 'e')"),
    (b'{"a":[1,]}', "invalid character ']' looking for beginning of value"),
    (b"[" * 20000, "exceeded max depth"),  # Go: past 10000 levels (ketch: past Python's stack)
])
def test_more_syntax_errors(body, message):
    assert syntax_error(body) == message


@pytest.mark.parametrize("body", [b"{}", b' {"a": [1, -0.5e+3, "\\u00e9", true, null]} x', b"123"])
def test_well_formed_first_values(body):
    assert syntax_error(body) is None


def test_quote_char_is_strconv_quote():
    assert [quote_char(c) for c in (0x62, 0x22, 0x27, 0x5C, 0x09, 0x00, 0x7F, 0x85, 0xE9)] == [
        "'b'", "'\"'", "'\\''", "'\\\\'", "'\\t'", "'\\x00'", "'\\x7f'", "'\\u0085'", "'é'"]


@pytest.mark.parametrize("body, message", [
    # Python's decoder stops after "-1" and "1.5"; Go's scanner reads the number on
    (b"-1.e", "invalid character 'e' after decimal point in numeric literal"),
    (b"1.5e+", "unexpected EOF"),
])
def test_a_top_level_number_is_read_as_far_as_go_reads_it(body, message):
    from ketch.apitypes.gojson import parse_value
    with pytest.raises(InvalidArgument) as exc:
        parse_value(body)
    assert str(exc.value) == "invalid JSON: " + message


def test_what_follows_a_value_is_more_unless_a_closing_bracket():
    from ketch.apitypes.gojson import parse_value
    assert parse_value(b"12 x") == (12, True)
    assert parse_value(b'{"a":1} ]') == ({"a": 1}, False)


def test_invalid_utf8_in_a_string_is_replaced_as_go_does():
    assert api.decode_create(b'{"Image": "bu\xffsy"}') == {"Image": "bu\ufffdsy"}
