"""timefmt.parse_ns against the standard library's own reading of the same timestamps."""

import calendar
import random
import time

import pytest

from ketch import timefmt


def _stdlib(text: str) -> int:
    head, _, frac = text.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
    return secs * 10**9 + int((frac + "000000000")[:9])


@pytest.mark.parametrize("text", [
    "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.000000001Z", "2000-02-29T12:00:00.5Z",
    "2000-03-01T00:00:00Z", "2100-02-28T23:59:59.999999999Z", "2024-12-31T23:59:60Z",
    "0001-01-01T00:00:01Z", "9999-12-31T23:59:59Z",
])
def test_edges(text):
    assert timefmt.parse_ns(text) == _stdlib(text)


def test_round_trips_what_format_ns_writes():
    rng = random.Random(6)
    for _ in range(5000):
        ns = rng.randrange(0, 4102444800 * 10**9)
        assert timefmt.parse_ns(timefmt.format_ns(ns)) == ns


def test_zero_and_empty():
    assert timefmt.parse_ns(timefmt.ZERO) == 0 and timefmt.parse_ns("") == 0


@pytest.mark.parametrize("bad", ["2026-13-01T00:00:00Z", "2026-01-01 00:00:00Z", "yesterday"])
def test_malformed_is_a_value_error(bad):
    with pytest.raises(ValueError):
        timefmt.parse_ns(bad)


@pytest.mark.parametrize("text,ns", [
    ("1700000000", 1700000000 * 10**9),
    ("1700000000.5", 1700000000 * 10**9 + 500_000_000),
    ("1700000000.000000001", 1700000000 * 10**9 + 1),
    ("-5", -5 * 10**9),
])
def test_timestamp_ns(text, ns):
    assert timefmt.timestamp_ns(text) == ns
