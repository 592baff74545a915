"""engine/images/distribution: moby's reference rules for the API, search filters, and
/info's RegistryConfig from daemon.json."""

import pytest

from ketch import errors
from ketch.engine.images import distribution
from ketch.engine.images.pull import translate
from ketch.oci import reference
from ketch.registry.client import apierror


def test_api_reference():
    ref = distribution.api_reference("localhost:5000/app", "")
    assert (ref.tag, ref.digest) == (None, None)  # every tag
    assert str(distribution.api_reference("busybox", "1.36")) == "docker.io/library/busybox:1.36"
    digest = "sha256:" + "a" * 64
    assert distribution.api_reference("busybox", digest).digest == digest
    with pytest.raises(errors.InvalidArgument, match="invalid tag format"):
        distribution.api_reference("busybox", "bad tag")


def test_search_filters():
    assert distribution._search_filters({"stars": ["3", "5"], "is-official": ["true"]}) == (5, True, None)
    with pytest.raises(errors.InvalidArgument, match="^invalid filter 'stars=x'$"):
        distribution._search_filters({"stars": ["x"]})
    with pytest.raises(errors.InvalidArgument, match="^invalid filter 'is-automated=maybe'$"):
        distribution._search_filters({"is-automated": ["maybe"]})


def test_registry_config():
    doc = distribution.registry_config(("http://mirror:5000",), ("10.0.0.0/8", "reg.local:5000"))
    assert doc["InsecureRegistryCIDRs"] == ["127.0.0.0/8", "10.0.0.0/8"]
    assert doc["Mirrors"] == ["http://mirror:5000/"]
    assert doc["IndexConfigs"]["reg.local:5000"] == {"Name": "reg.local:5000", "Mirrors": [],
                                                     "Secure": False, "Official": False}
    assert doc["IndexConfigs"]["docker.io"]["Mirrors"] == ["http://mirror:5000/"]


@pytest.mark.parametrize("code,text,expected", [
    ("MANIFEST_UNKNOWN", "manifest unknown: manifest unknown",
     "manifest for localhost:5000/app:nope not found: manifest unknown: manifest unknown"),
    ("DENIED", "denied: requested access to the resource is denied",
     "pull access denied for localhost:5000/app, repository does not exist or may require "
     "'docker login': denied: requested access to the resource is denied"),
    ("NAME_UNKNOWN", "name unknown: repository name not known to registry",
     "repository localhost:5000/app not found: name unknown: repository name not known to registry"),
])
def test_pull_errors_are_moby_s(code, text, expected):
    exc = apierror.RegistryNotFound(text, 404, (code,))
    out = translate(exc, reference.parse("localhost:5000/app:nope"))
    assert isinstance(out, errors.NotFound) and str(out) == expected
    other = apierror.RegistryUnauthorized("unauthorized: authentication required", 401, ("UNAUTHORIZED",))
    assert translate(other, reference.parse("x")) is other
