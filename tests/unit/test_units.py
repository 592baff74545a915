"""ketch.cli.units against docker/go-units' tests, Go's strconv/time, and the
docker 28.2.2 client's own output and error texts."""

import math

import pytest

from ketch import units
from ketch.errors import InvalidArgument

DAY = 24 * 3600
WEEK, MONTH, YEAR = 7 * DAY, 30 * DAY, 365 * DAY

# go-units v0.5.0 duration_test.go TestHumanDuration (the version the docker
# 28.2.2 client vendors), durations in seconds, then the four ages docker
# 28.2.2 itself printed for probe images in `docker images` (CREATED column).
HUMAN_DURATION = [
    (0.45, "Less than a second"),
    (0, "Less than a second"),
    (-5, "Less than a second"),
    (1, "1 second"),
    (1.9, "1 second"),
    (45, "45 seconds"),
    (46, "46 seconds"),
    (59, "59 seconds"),
    (60, "About a minute"),
    (119, "About a minute"),
    (3 * 60, "3 minutes"),
    (35 * 60, "35 minutes"),
    (35 * 60 + 40, "35 minutes"),
    (45 * 60, "45 minutes"),
    (45 * 60 + 40, "45 minutes"),
    (46 * 60, "46 minutes"),
    (59 * 60, "59 minutes"),
    (3600, "About an hour"),
    (3600 + 29 * 60, "About an hour"),
    (3600 + 31 * 60, "2 hours"),
    (3600 + 59 * 60, "2 hours"),
    (3 * 3600, "3 hours"),
    (3 * 3600 + 29 * 60, "3 hours"),
    (3 * 3600 + 31 * 60, "4 hours"),
    (3 * 3600 + 59 * 60, "4 hours"),
    (3 * 3600 + 60 * 60, "4 hours"),
    (24 * 3600, "24 hours"),
    (DAY + 12 * 3600, "36 hours"),
    (2 * DAY, "2 days"),
    (7 * DAY, "7 days"),
    (13 * DAY + 5 * 3600, "13 days"),
    (2 * WEEK, "2 weeks"),
    (2 * WEEK + 4 * DAY, "2 weeks"),
    (3 * WEEK, "3 weeks"),
    (4 * WEEK, "4 weeks"),
    (4 * WEEK + 3 * DAY, "4 weeks"),
    (MONTH, "4 weeks"),
    (MONTH + 2 * WEEK, "6 weeks"),
    (2 * MONTH, "2 months"),
    (2 * MONTH + 2 * WEEK, "2 months"),
    (3 * MONTH, "3 months"),
    (3 * MONTH + WEEK, "3 months"),
    (5 * MONTH + 2 * WEEK, "5 months"),
    (13 * MONTH, "13 months"),
    (23 * MONTH, "23 months"),
    (24 * MONTH, "24 months"),
    (24 * MONTH + 2 * WEEK, "2 years"),
    (3 * YEAR + 2 * MONTH, "3 years"),
    # docker 28.2.2, images created this long ago (the newer go-units that
    # rounds every unit would say 3 days, 3 weeks, 4 months, 4 years)
    (2 * DAY + 17 * 3600 + 600, "2 days"),
    (18 * DAY + 600, "2 weeks"),
    (3 * MONTH + 20 * DAY + 3600, "3 months"),
    (3 * YEAR + 8 * MONTH + 3600, "3 years"),
]


@pytest.mark.parametrize("seconds,expected", HUMAN_DURATION)
def test_human_duration(seconds, expected):
    assert units.human_duration(seconds) == expected


KB, MB, GB, TB, PB = 1000, 1000**2, 1000**3, 1000**4, 1000**5
KiB, MiB, GiB, TiB, PiB = 1024, 1024**2, 1024**3, 1024**4, 1024**5

# (size, precision, expected): go-units size_test.go TestHumanSize (precision
# 4), then sizes the docker 28.2.2 client printed with precision 3 for the
# byte counts the daemon reported (image 1984233, container rw/rootfs).
HUMAN_SIZE = [
    (1000, 4, "1kB"),
    (1024, 4, "1.024kB"),
    (1000000, 4, "1MB"),
    (1048576, 4, "1.049MB"),
    (2 * MB, 4, "2MB"),
    (3.42 * GB, 4, "3.42GB"),
    (5.372 * TB, 4, "5.372TB"),
    (2.22 * PB, 4, "2.22PB"),
    (10000000000000 * PB, 4, "1e+04YB"),
    (1984233, 3, "1.98MB"),
    (5259700, 3, "5.26MB"),
    (7243933, 3, "7.24MB"),
    (2983933, 3, "2.98MB"),
    # docker 28's go-units still lets %g go scientific here: `docker ps -s`
    # printed "1e+03kB (virtual 2.98MB)" for a 999700-byte layer
    (999700, 3, "1e+03kB"),
    (4260000, 3, "4.26MB"),
    (1000, 3, "1kB"),
    (999, 3, "999B"),
    (0, 3, "0B"),
    (1e9, 3, "1GB"),
    (1e15, 3, "1PB"),
    (1e27, 3, "1e+03YB"),
    (-5, 3, "-5B"),
    (float("inf"), 3, "+InfYB"),
]


@pytest.mark.parametrize("size,precision,expected", HUMAN_SIZE)
def test_human_size(size, precision, expected):
    assert units.human_size(size, precision) == expected


def test_human_size_defaults_to_docker_cli_precision():
    assert units.human_size(1984233) == "1.98MB"


# go-units TestBytesSize
BYTES_SIZE = [
    (1024, "1KiB"),
    (1024 * 1024, "1MiB"),
    (1048576, "1MiB"),
    (2 * MiB, "2MiB"),
    (3.42 * GiB, "3.42GiB"),
    (5.372 * TiB, "5.372TiB"),
    (2.22 * PiB, "2.22PiB"),
    (KiB * KiB * KiB * KiB * KiB * PiB, "1.049e+06YiB"),
    (1536, "1.5KiB"),
    (0, "0B"),
    (64 * MiB, "64MiB"),
]


@pytest.mark.parametrize("size,expected", BYTES_SIZE)
def test_bytes_size(size, expected):
    assert units.bytes_size(size) == expected


FROM_HUMAN_SIZE = [
    ("32", 32), ("32b", 32), ("32B", 32), ("32k", 32 * KB), ("32K", 32 * KB),
    ("32kb", 32 * KB), ("32Kb", 32 * KB), ("32Mb", 32 * MB), ("32Gb", 32 * GB),
    ("32Tb", 32 * TB), ("32Pb", 32 * PB), ("32.5kB", 32500), ("32.5 kB", 32500),
    ("32.5 B", 32), ("0.3 K", 300),
]


@pytest.mark.parametrize("text,expected", FROM_HUMAN_SIZE)
def test_parse_size(text, expected):
    assert units.parse_size(text) == expected


RAM_IN_BYTES = [
    ("32", 32), ("32b", 32), ("32B", 32), ("32k", 32 * KiB), ("32K", 32 * KiB),
    ("32kb", 32 * KiB), ("32Kb", 32 * KiB), ("32Kib", 32 * KiB), ("32KIB", 32 * KiB),
    ("32Mb", 32 * MiB), ("32Gb", 32 * GiB), ("32Tb", 32 * TiB), ("32Pb", 32 * PiB),
    ("32PB", 32 * PiB), ("32P", 32 * PiB), ("32.3", 32),
    ("32.3 mb", int(32.3 * MiB)), ("0.3MB", int(0.3 * MiB)),
    ("512m", 512 * MiB), ("1g", GiB), ("100k", 102400), ("1024", 1024),
]


@pytest.mark.parametrize("text,expected", RAM_IN_BYTES)
def test_parse_ram(text, expected):
    assert units.parse_ram(text) == expected


# Errors: go-units' assertError inputs, with the texts docker 28.2.2 printed
# after `invalid argument "..." for "-m, --memory" flag: `.
SIZE_ERRORS = [
    ("", "invalid size: ''"),
    ("hello", "invalid size: 'hello'"),
    ("x", "invalid size: 'x'"),
    ("-32", "invalid size: '-32'"),
    (".3kB", None),
    (" 32 ", 'strconv.ParseFloat: parsing " 32": invalid syntax'),
    ("32m b", 'strconv.ParseFloat: parsing "32m": invalid syntax'),
    ("32bm", "invalid suffix: 'bm'"),
    ("512q", "invalid suffix: 'q'"),
    ("10Q", "invalid suffix: 'q'"),
    ("32KIBB", "invalid suffix: 'KIBB'"),
    ("1.2.3m", 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'),
]


@pytest.mark.parametrize("text,message", SIZE_ERRORS)
def test_parse_ram_errors(text, message):
    if message is None:
        # go-units rejects ".3kB" for FromHumanSize only; RAMInBytes reads 0.3 KiB
        assert units.parse_ram(text) == int(0.3 * KiB)
        return
    with pytest.raises(ValueError) as err:
        units.parse_ram(text)
    assert str(err.value) == message


@pytest.mark.parametrize("text", ["", "hello", "-32", " 32 ", "32m b", "32bm"])
def test_parse_size_errors(text):
    with pytest.raises(ValueError):
        units.parse_size(text)


# time.ParseDuration, in nanoseconds
DURATIONS = [
    ("10s", 10 * 10**9), ("1m30s", 90 * 10**9), ("500ms", 500 * 10**6), ("0", 0),
    ("+0", 0), ("-0", 0), ("1h", 3600 * 10**9), ("-1.5h", -5400 * 10**9),
    (".5s", 5 * 10**8), ("1.s", 10**9), ("1h0.5m", 3630 * 10**9), ("1ns", 1),
    ("1us", 1000), ("1µs", 1000), ("1μs", 1000), ("2h45m", 9900 * 10**9),
    ("1.000000001s", 10**9 + 1), ("9223372036854775807ns", 2**63 - 1),
    ("-9223372036854775808ns", -(2**63)),
    ("2562047h47m16.854775807s", 2**63 - 1),  # this and the next checked with go 1.19
    ("-2562047h47m16.854775808s", -(2**63)),
]


@pytest.mark.parametrize("text,ns", DURATIONS)
def test_parse_duration(text, ns):
    assert units.parse_duration(text) == ns


# docker 28.2.2: invalid argument "..." for "--health-interval" flag: <these>
DURATION_ERRORS = [
    ("10", 'time: missing unit in duration "10"'),
    ("1h2", 'time: missing unit in duration "1h2"'),
    ("", 'time: invalid duration ""'),
    ("1x", 'time: unknown unit "x" in duration "1x"'),
    (".s", 'time: invalid duration ".s"'),
    ("-", 'time: invalid duration "-"'),
    ("s", 'time: invalid duration "s"'),
    ("9999999999999999999h", 'time: invalid duration "9999999999999999999h"'),
    ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
    ("1é", 'time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"'),
    ("1.5e", 'time: unknown unit "e" in duration "1.5e"'),
    ("2562047h47m16.854775808s", 'time: invalid duration "2562047h47m16.854775808s"'),
    ("1\t", 'time: unknown unit "\\x09" in duration "1\\x09"'),
]


@pytest.mark.parametrize("text,message", DURATION_ERRORS)
def test_parse_duration_errors(text, message):
    with pytest.raises(InvalidArgument) as err:
        units.parse_duration(text)
    assert str(err.value) == message


# time.Duration.String
FORMAT_DURATION = [
    (0, "0s"), (1, "1ns"), (1100, "1.1µs"), (2200 * 1000, "2.2ms"),
    (3300 * 10**6, "3.3s"), (-(4 * 60 + 5) * 10**9, "-4m5s"),
    ((4 * 60 + 5) * 10**9 + 1000, "4m5.000001s"), (90 * 10**9, "1m30s"),
    (3600 * 10**9, "1h0m0s"), ((5 * 3600 + 6 * 60 + 7) * 10**9 + 1000000, "5h6m7.001s"),
    (2**63 - 1, "2562047h47m16.854775807s"), (-(2**63), "-2562047h47m16.854775808s"),
]


@pytest.mark.parametrize("ns,text", FORMAT_DURATION)
def test_format_duration(ns, text):
    assert units.format_duration(ns) == text


# strconv.ParseInt(s, 0, 64); docker 28.2.2 took "0x10", "010", "1_0" for
# `docker ps -n` and refused the error cases with exactly these texts.
INTS = [
    ("0", 0), ("42", 42), ("-7", -7), ("+7", 7), ("0x10", 16), ("0X1f", 31),
    ("010", 8), ("0o17", 15), ("0b101", 5), ("1_000", 1000), ("0x_1f", 31),
    ("-0x_1", -1), ("9223372036854775807", 2**63 - 1), ("-9223372036854775808", -(2**63)),
]


@pytest.mark.parametrize("text,value", INTS)
def test_parse_go_int(text, value):
    assert units.parse_go_int(text) == value


INT_ERRORS = [
    ("abc", "invalid syntax"), ("", "invalid syntax"), ("-", "invalid syntax"),
    ("+", "invalid syntax"), ("0x", "invalid syntax"), ("08", "invalid syntax"),
    ("1_", "invalid syntax"), ("_1", "invalid syntax"), ("1__0", "invalid syntax"),
    ("1e3", "invalid syntax"), ("0x1p3", "invalid syntax"), (" 1", "invalid syntax"),
    ("１", "invalid syntax"),
    ("99999999999999999999", "value out of range"),
    ("9223372036854775808", "value out of range"),
    ("-9223372036854775809", "value out of range"),
]


@pytest.mark.parametrize("text,why", INT_ERRORS)
def test_parse_go_int_errors(text, why):
    with pytest.raises(ValueError) as err:
        units.parse_go_int(text)
    assert str(err.value) == "strconv.ParseInt: parsing %s: %s" % (units.go_quote(text), why)


FLOATS = [
    ("1.5", 1.5), ("-2", -2.0), ("+.5", 0.5), ("1e3", 1000.0), ("1E-2", 0.01),
    ("1_000.5", 1000.5), ("0x1p-2", 0.25), ("0X1.8P1", 3.0), ("inf", math.inf),
    ("-Infinity", -math.inf), ("1.", 1.0),
]


@pytest.mark.parametrize("text,value", FLOATS)
def test_parse_go_float(text, value):
    assert units.parse_go_float(text) == value


def test_parse_go_float_nan():
    assert math.isnan(units.parse_go_float("NaN"))


@pytest.mark.parametrize("text,why", [
    ("x", "invalid syntax"), ("", "invalid syntax"), (" 1", "invalid syntax"),
    ("1 ", "invalid syntax"), ("+nan", "invalid syntax"), ("0x1", "invalid syntax"),
    ("1__0", "invalid syntax"), ("infin", "invalid syntax"), (".", "invalid syntax"),
    ("1e400", "value out of range"), ("-1e400", "value out of range"),
])
def test_parse_go_float_errors(text, why):
    with pytest.raises(ValueError) as err:
        units.parse_go_float(text)
    assert str(err.value) == "strconv.ParseFloat: parsing %s: %s" % (units.go_quote(text), why)


@pytest.mark.parametrize("text,value", [
    ("1", True), ("t", True), ("T", True), ("TRUE", True), ("true", True), ("True", True),
    ("0", False), ("f", False), ("F", False), ("FALSE", False), ("false", False), ("False", False),
])
def test_parse_go_bool(text, value):
    assert units.parse_go_bool(text) is value


@pytest.mark.parametrize("text", ["maybe", "", "yes", "tRUE", "2"])
def test_parse_go_bool_errors(text):
    with pytest.raises(ValueError) as err:
        units.parse_go_bool(text)
    assert str(err.value) == "strconv.ParseBool: parsing %s: invalid syntax" % units.go_quote(text)


@pytest.mark.parametrize("value,text", [
    (0.0, "0"), (1.0, "1"), (0.5, "0.5"), (-2.5, "-2.5"), (123456789.0, "123456789"),
    (1e20, "100000000000000000000"), (1e21, "1e+21"), (1.5e300, "1.5e+300"),
    (0.0001, "0.0001"), (0.00001, "1e-05"), (1.25e-7, "1.25e-07"), (0.1, "0.1"),
])
def test_format_go_float(value, text):
    assert units.format_go_float(value) == text


@pytest.mark.parametrize("text,quoted", [
    ("abc", '"abc"'), ('a"b', '"a\\"b"'), ("a\\b", '"a\\\\b"'), ("\n\t", '"\\n\\t"'),
    ("\x01", '"\\x01"'), ("é", '"é"'), ("", '""'),
    ("sleep 3600", '"sleep 3600"'), ('say "hi"', '"say \\"hi\\""'), ("\x7f", '"\\x7f"'),
    ("\u200b", '"\\u200b"'),
])
def test_go_quote(text, quoted):
    assert units.go_quote(text) == quoted
