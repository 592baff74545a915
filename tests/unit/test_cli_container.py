"""ketch.cli.timestamps.timestamp_arg (docker's timetypes.GetTimestamp) and
ketch.cli.commands.container.parse_filters (docker/cli's FilterOpt.Set).

GetTimestamp: a Go duration (but not "0") means that long before now, sent as
whole Unix seconds; a time without a zone is in the client's local zone (its
offset now, as GetTimestamp takes it from the reference time); an RFC 3339 time
becomes "<seconds>.<nanoseconds>"; a bare number passes through. Every value
here was also checked against the docker 28.2.2 client (`docker logs --since`)
talking to a stub daemon that recorded the query it was sent, in three zones.
"""

import time

import pytest

from ketch.cli.commands.container import parse_filters
from ketch.cli.timestamps import timestamp_arg
from ketch.cli.main import StatusError


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
    # "0" is no duration (value != "0"): Unix time 0, so `logs --since 0` shows everything
    ("0", 1000.0, "UTC", "0"),
    ("+5", 1000.0, "UTC", "+5"),
    ("20240102", 1000.0, "UTC", "20240102"),
    ("2024-01-02T03:04:05+02:00", 1000.0, "UTC", "1704157445.000000000"),
    ("2024-01-02T03:04:05-05:30", 1000.0, "UTC", "1704184445.000000000"),
    ("2024-01-02T03+02:00", 1000.0, "UTC", "1704157200.000000000"),
    ("2024-01-02T03:04+02:00", 1000.0, "UTC", "1704157440.000000000"),
    ("2024-01-02T03:04:05.5+01:00", 1000.0, "UTC", "1704161045.500000000"),
    ("2024-01-02+02:00", 1000.0, "UTC", "1704146400.000000000"),
    ("2024-01-02-05:00", 1000.0, "UTC", "1704171600.000000000"),  # three dashes: a zone
    ("2024-01-02Z", 1000.0, "UTC", "1704153600.000000000"),
    ("2024-01-02T03", 1000.0, "UTC", "1704164400.000000000"),  # the hour-only form
    ("2024-01-02T3:04:05", 1000.0, "UTC", "1704164645.000000000"),
    ("2024-01-02T03:04:05,5", 1000.0, "UTC", "1704164645.500000000"),
    ("2024-01-02T03:04:05.123456789012Z", 1000.0, "UTC", "1704164645.123456789"),
    ("0001-01-01", 1000.0, "UTC", "-62135596800.000000000"),
    ("1969-12-31T23:59:59.5", 1000.0, "UTC", "-1.500000000"),
    # no zone: the local zone's offset at the reference time (now), not at the date
    ("2024-01-02", 1000.0, "Asia/Kolkata", "1704133800.000000000"),
    ("2024-01-02T03:04:05", 1000.0, "America/New_York", "1704182645.000000000"),
    ("2024-06-15T12", 1000.0, "America/New_York", "1718470800.000000000"),  # EST in June
    ("2024-06-15T12", 1718000000.0, "America/New_York", "1718467200.000000000"),
    ("2024-01-02T03:04:05Z", 1000.0, "America/New_York", "1704164645.000000000"),
]


@pytest.mark.parametrize("value,now,tz,expected", TIMESTAMPS)
def test_timestamp_arg(zone, value, now, tz, expected):
    zone(tz)
    assert timestamp_arg(value, now=now) == expected


@pytest.mark.parametrize("value,now,expected", [
    ("10s", 1000.0, "990"),
    ("1m30s", 1000.0, "910"),
    ("1.5h", 10000.0, "4600"),
    ("10s", 1000.7, "990"),  # whole seconds: reference.Add(-d).Unix()
    ("-10s", 1000.0, "1010"),
    ("0s", 1000.0, "1000"),
    ("10m0.5s", 1000.0, "399"),
])
def test_timestamp_arg_duration(value, now, expected):
    assert timestamp_arg(value, now=now) == expected


@pytest.mark.parametrize("value", ["foo", "yesterday", "10x", "1e3", "1.5.5", "1.", ".5", " 10s",
                                   "1_000", "99999999999999999999", "\u00e9"])
def test_timestamp_arg_invalid(value):
    with pytest.raises(StatusError) as exc:
        timestamp_arg(value, now=0.0)
    assert (exc.value.code, exc.value.message) == (1, (
        f'invalid value for "since": failed to parse value as time or duration: "{value}"'))


# A value with a "-" that Go's time.Parse refuses fails with Go's own words
@pytest.mark.parametrize("value,error", [
    ("2024-13-01", 'parsing time "2024-13-01": month out of range'),
    ("2024-02-30", 'parsing time "2024-02-30": day out of range'),
    ("2023-02-29", 'parsing time "2023-02-29": day out of range'),
    ("2024-01-02T24", 'parsing time "2024-01-02T24": hour out of range'),
    ("2024-01-02T23:60", 'parsing time "2024-01-02T23:60": minute out of range'),
    ("2024-01-02T23:59:60", 'parsing time "2024-01-02T23:59:60": second out of range'),
    ("-5", 'parsing time "-5" as "2006-01-02": cannot parse "-5" as "2006"'),
    ("2024-1-02", 'parsing time "2024-1-02" as "2006-01-02": cannot parse "1-02" as "01"'),
    ("2024-01-2", 'parsing time "2024-01-2" as "2006-01-02": cannot parse "2" as "02"'),
    ("2024-01-02x", 'parsing time "2024-01-02x": extra text: "x"'),
    ("2024-01-02 03:04:05", 'parsing time "2024-01-02 03:04:05": extra text: " 03:04:05"'),
    ("2024-01-02T03:04:05.", 'parsing time "2024-01-02T03:04:05.": extra text: "."'),
    ("2024-01-02T03:04:05z", 'parsing time "2024-01-02T03:04:05z" as '
                             '"2006-01-02T15:04:05Z07:00": cannot parse "z" as "Z07:00"'),
    ("2024-01-02T03:04:05+0200", 'parsing time "2024-01-02T03:04:05+0200" as '
                                 '"2006-01-02T15:04Z07:00": cannot parse ":05+0200" as "Z07:00"'),
    ("2024-01-02T03:04:05+25:00",
     'parsing time "2024-01-02T03:04:05+25:00": time zone offset hour out of range'),
    ("2024-01-02T03:04:05+99:99",
     'parsing time "2024-01-02T03:04:05+99:99": time zone offset minute out of range'),
    ("2024-01-02T03:04:05+2a:00", 'parsing time "2024-01-02T03:04:05+2a:00" as '
                                  '"2006-01-02T15:04:05Z07:00": cannot parse "+2a:00" as "Z07:00"'),
    ("2024-01-02T03:04:05 02:00", 'parsing time "2024-01-02T03:04:05 02:00": extra text: " 02:00"'),
    ("2024-01-02T03:04:05*02:00", 'parsing time "2024-01-02T03:04:05*02:00": extra text: "*02:00"'),
    ("2024-01-02T03:04:05+02:00:00",
     'parsing time "2024-01-02T03:04:05+02:00:00": extra text: ":00"'),
])
def test_timestamp_arg_go_errors(zone, value, error):
    zone("UTC")
    with pytest.raises(StatusError) as exc:
        timestamp_arg(value, "until", now=0.0)
    assert (exc.value.code, exc.value.message) == (1, f'invalid value for "until": {error}')


def test_timestamp_arg_flag_name():
    with pytest.raises(StatusError) as exc:
        timestamp_arg("foo", "until", now=0.0)
    assert exc.value.message == (
        'invalid value for "until": failed to parse value as time or duration: "foo"')


FILTERS = [
    ([], {}),
    (["name=web"], {"name": ["web"]}),
    (["NAME=web"], {"name": ["web"]}),
    ([" name =web"], {"name": ["web"]}),
    (["label=a=b"], {"label": ["a=b"]}),
    (["name=a", "name=b", "status=exited"], {"name": ["a", "b"], "status": ["exited"]}),
    (["name="], {"name": [""]}),
    (["name= web "], {"name": ["web"]}),  # FilterOpt.Set trims the value too
    ([""], {}),  # an empty --filter is ignored
    (["", "name=a"], {"name": ["a"]}),
    (["name=a", "name= a", "NAME=b"], {"name": ["a", "b"]}),  # filters.Args holds a set
]


@pytest.mark.parametrize("items,expected", FILTERS)
def test_parse_filters(items, expected):
    assert parse_filters(items) == expected


def test_parse_filters_bad_format():
    with pytest.raises(StatusError) as exc:
        parse_filters(["foo"])
    assert (exc.value.code, exc.value.message) == (
        125, 'invalid argument "foo" for "-f, --filter" flag: bad format of filter (expected name=value)')


@pytest.mark.parametrize("image, words", [
    ("UPPER", "invalid reference format: repository name (library/UPPER) must be lowercase"),
    ("busybox:UP@x", "invalid reference format"),
    ("", "invalid reference format"),
    ("busybox", None),
    ("localhost:5000/a/b:1.0", None),
    ("a" * 64, None),  # a full image id, as docker/cli's ParseAnyReference takes it
    ("sha256:" + "b" * 64, None),
])
def test_run_checks_the_reference_before_sending_it(image, words):
    from ketch.cli.commands.container import check_reference
    from ketch.errors import InvalidArgument
    if words is None:
        check_reference(image)
        return
    with pytest.raises(InvalidArgument) as err:
        check_reference(image)
    assert str(err.value) == words


def test_wrapped_keeps_the_kind():
    from ketch import errors
    out = errors.wrapped(errors.no_such_container("x"), "cannot kill container: x")
    assert isinstance(out, errors.NotFound) and str(out) == "cannot kill container: x: No such container: x"
    failed = errors.wrapped(errors.ExecFailed("exec: nope", 127), "p")
    assert (str(failed), failed.exit_code) == ("p: exec: nope", 127)
