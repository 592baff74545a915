"""containerd's platform matcher: normalisation, what runs where, selection from an index."""

import pytest

from ketch.errors import NotFound
from ketch.oci.platform import Platform
from ketch.registry.client import platforms
from ketch.registry.client.manifest import Descriptor, ImageIndex


@pytest.mark.parametrize("given,normal", [
    (("linux", "armhf", ""), ("linux", "arm", "v7")),
    (("linux", "armel", ""), ("linux", "arm", "v6")),
    (("linux", "arm", ""), ("linux", "arm", "v7")),
    (("linux", "arm", "6"), ("linux", "arm", "v6")),
    (("linux", "aarch64", ""), ("linux", "arm64", "")),
    (("linux", "arm64", "v8"), ("linux", "arm64", "")),
    (("linux", "x86_64", ""), ("linux", "amd64", "")),
    (("linux", "amd64", "v1"), ("linux", "amd64", "")),
    (("linux", "i386", ""), ("linux", "386", "")),
    (("Linux", "AMD64", ""), ("linux", "amd64", "")),
])
def test_normalize(given, normal):
    assert platforms.normalize(Platform(*given)) == Platform(*normal)


@pytest.mark.parametrize("wanted,vector", [
    (("linux", "arm", "v7"), ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]),
    (("linux", "arm", ""), ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]),
    (("linux", "arm", "v5"), ["linux/arm/v5"]),
    (("linux", "arm64", ""), ["linux/arm64", "linux/arm/v8", "linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]),
    (("linux", "amd64", "v3"), ["linux/amd64/v3", "linux/amd64/v2", "linux/amd64", "linux/386"]),
    (("linux", "amd64", ""), ["linux/amd64", "linux/386"]),
])
def test_compatible(wanted, vector):
    assert [platforms.format_platform(p) for p in platforms.compatible(Platform(*wanted))] == vector


def _entry(n: int, os: str, arch: str, variant: str = "") -> Descriptor:
    return Descriptor("application/vnd.oci.image.manifest.v1+json", f"sha256:{n:064x}", 1,
                      platform=Platform(os, arch, variant))


INDEX = ImageIndex("application/vnd.oci.image.index.v1+json", (
    Descriptor("application/vnd.oci.image.manifest.v1+json", "sha256:" + "f" * 64, 1),  # no platform
    _entry(1, "linux", "arm", "v5"),
    _entry(2, "linux", "arm", "v6"),
    _entry(3, "linux", "amd64"),
    _entry(4, "windows", "amd64"),
    _entry(5, "linux", "arm", "v7"),
    _entry(6, "unknown", "unknown"),  # an attestation manifest
))


@pytest.mark.parametrize("wanted,chosen", [
    (("linux", "arm", "v7"), 5),   # the best match, though a lower variant comes first
    (("linux", "arm", "v6"), 2),
    (("linux", "armhf", ""), 5),
    (("linux", "arm64", ""), 5),   # arm64 runs arm/v7
    (("linux", "amd64", ""), 3),
    (("windows", "amd64", ""), 4),
])
def test_select(wanted, chosen):
    assert platforms.select(INDEX, Platform(*wanted)).digest == f"sha256:{chosen:064x}"


def test_a_platform_the_index_lacks_gets_dockers_message():
    with pytest.raises(NotFound) as err:
        platforms.select(INDEX, Platform("linux", "s390x"))
    assert str(err.value) == "no matching manifest for linux/s390x in the manifest list entries"
    with pytest.raises(NotFound, match="^no matching manifest for linux/arm64/v9 in the manifest list"):
        platforms.select(ImageIndex("x", (_entry(1, "linux", "amd64"),)), Platform("linux", "arm64", "v9"))


def test_default_is_the_host():
    assert platforms.default().os == "linux"
    assert platforms.select(INDEX).platform.architecture in ("amd64", "arm")
