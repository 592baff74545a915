"""ketch.cli.commands.container: timestamp_arg (docker's timetypes.GetTimestamp) and
parse_filters (docker/cli's FilterOpt.Set).

GetTimestamp: a Go duration (but not "0") means that long before now, sent as
whole Unix seconds; a time without a zone is in the client's local zone; an
RFC 3339 time becomes "<seconds>.<nanoseconds>"; a bare number passes through.
"""

import time
from decimal import Decimal

import pytest

from ketch.cli.commands.container import parse_filters, timestamp_arg
from ketch.cli.main import StatusError


def bug(reason):
    return pytest.mark.xfail(strict=True, reason=f"bug: {reason}")


@pytest.fixture
def zone(monkeypatch):
    def set_zone(name):
        monkeypatch.setenv("TZ", name)
        time.tzset()
    yield set_zone
    monkeypatch.undo()
    time.tzset()


# (value, now, TZ) -> what GetTimestamp returns
TIMESTAMPS = [
    ("", 1000.0, "UTC", ""),
    ("10", 1000.0, "UTC", "10"),  # a bare number is a Unix time: Go wants a unit for durations
    ("1700000000", 1000.0, "UTC", "1700000000"),
    ("1700000000.5", 1000.0, "UTC", "1700000000.5"),
    ("2024-01-02T03:04:05Z", 1000.0, "UTC", "1704164645.000000000"),
    ("2024-01-02T03:04:05.5Z", 1000.0, "UTC", "1704164645.500000000"),
    ("2024-01-02T03:04:05.123456789Z", 1000.0, "UTC", "1704164645.123456789"),
    ("2024-01-02T03:04:05", 1000.0, "UTC", "1704164645.000000000"),
    ("2024-01-02T03:04", 1000.0, "UTC", "1704164640.000000000"),
    ("2024-01-02", 1000.0, "UTC", "1704153600.000000000"),
    pytest.param("0", 1000.0, "UTC", "0",
                 marks=bug("'0' is excluded from the duration case (value != \"0\") and passes "
                           "through as Unix time 0, so `logs --since 0` shows everything; ketch "
                           "reads it as 0s ago, i.e. now, and shows nothing")),
    pytest.param("2024-01-02T03:04:05+02:00", 1000.0, "UTC", "1704157445.000000000",
                 marks=bug("a numeric zone offset is refused")),
    pytest.param("2024-01-02T03", 1000.0, "UTC", "1704164400.000000000",
                 marks=bug("the hour-only form 2006-01-02T15 is refused")),
    pytest.param("2024-01-02", 1000.0, "Asia/Kolkata", "1704133800.000000000",
                 marks=bug("a date without a zone is local time (ParseInLocation); ketch uses UTC")),
    pytest.param("2024-01-02T03:04:05", 1000.0, "America/New_York", "1704182645.000000000",
                 marks=bug("a time without a zone is local time; ketch uses UTC")),
]


@pytest.mark.parametrize("value,now,tz,expected", TIMESTAMPS)
def test_timestamp_arg(zone, value, now, tz, expected):
    zone(tz)
    assert timestamp_arg(value, now=now) == expected


@pytest.mark.parametrize("value,now,expected", [
    ("10s", 1000.0, "990"),
    ("1m30s", 1000.0, "910"),
    ("1.5h", 10000.0, "4600"),
    pytest.param("10s", 1000.7, "990", marks=bug(
        "a duration gives whole seconds (reference.Add(-d).Unix()); ketch sends 990.7, which "
        "moves --since/--until by the fraction of a second")),
])
def test_timestamp_arg_duration(value, now, expected):
    """Compared as numbers: ketch writes "990.000000000" for docker's "990", which the
    daemon reads the same."""
    assert Decimal(timestamp_arg(value, now=now)) == Decimal(expected)


@pytest.mark.parametrize("value", ["foo", "2024-13-01", "yesterday", "10x"])
def test_timestamp_arg_invalid(value):
    with pytest.raises(StatusError) as exc:
        timestamp_arg(value, now=0.0)
    assert exc.value.message == (
        f'invalid value for "since": failed to parse value as time or duration: "{value}"')


FILTERS = [
    ([], {}),
    (["name=web"], {"name": ["web"]}),
    (["NAME=web"], {"name": ["web"]}),
    ([" name =web"], {"name": ["web"]}),
    (["label=a=b"], {"label": ["a=b"]}),
    (["name=a", "name=b", "status=exited"], {"name": ["a", "b"], "status": ["exited"]}),
    (["name="], {"name": [""]}),
    pytest.param(["name= web "], {"name": ["web"]},
                 marks=bug("FilterOpt.Set trims the value too (strings.TrimSpace(val))")),
    pytest.param([""], {}, marks=bug("an empty --filter is ignored (if value == \"\" return nil); "
                                     "ketch rejects it")),
]


@pytest.mark.parametrize("items,expected", FILTERS)
def test_parse_filters(items, expected):
    assert parse_filters(items) == expected


def test_parse_filters_bad_format():
    with pytest.raises(StatusError) as exc:
        parse_filters(["foo"])
    assert (exc.value.code, exc.value.message) == (
        125, 'invalid argument "foo" for "-f, --filter" flag: bad format of filter (expected name=value)')
