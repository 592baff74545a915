"""Platform specifiers as containerd's platforms.Parse reads them (oci/platform.py)."""

import pytest

from ketch.errors import InvalidArgument
from ketch.oci.platform import Platform, host_arch, parse


@pytest.mark.parametrize("spec, expected", [
    ("linux/amd64", Platform("linux", "amd64")),
    ("linux/x86_64", Platform("linux", "amd64")),
    ("Linux/AARCH64", Platform("linux", "arm64")),
    ("linux/arm64/v8", Platform("linux", "arm64")),
    ("linux/arm/v7", Platform("linux", "arm", "v7")),
    ("linux/armhf", Platform("linux", "arm", "v7")),
    ("s390x", Platform("linux", "s390x")),
    ("linux", Platform("linux", host_arch())),
])
def test_parse(spec, expected):
    assert parse(spec) == expected


@pytest.mark.parametrize("spec, words", [
    ("bogus", '"bogus": unknown operating system or architecture: invalid argument'),
    ("a/b/c/d", '"a/b/c/d": cannot parse platform specifier: invalid argument'),
    ("linux/", '"linux/": cannot parse platform specifier: invalid argument'),
    ("linux/*", '"linux/*": cannot parse platform specifier: invalid argument'),
])
def test_parse_errors(spec, words):
    with pytest.raises(InvalidArgument) as err:
        parse(spec)
    assert str(err.value) == words


def test_matches_and_prints():
    assert parse("linux/arm/v7").matches(Platform("linux", "arm"))  # the image names no variant
    assert not parse("linux/arm/v6").matches(Platform("linux", "arm", "v7"))
    assert not parse("linux/s390x").matches(Platform("linux", "amd64"))
    assert str(Platform("linux", "arm", "v7")) == "linux/arm/v7"
