"""WWW-Authenticate parsing and the registry's error texts (registry/client)."""

import pytest

from ketch.errors import NotFound, PermissionDenied
from ketch.registry.client import apierror
from ketch.registry.client.challenge import parse_challenges


def _pairs(values):
    return [(c.scheme, dict(c.params)) for c in parse_challenges(values)]


@pytest.mark.parametrize("values,expected", [
    (['Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
      'scope="repository:library/busybox:pull"'],
     [("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                  "scope": "repository:library/busybox:pull"})]),
    (['Basic realm="basic-realm"'], [("basic", {"realm": "basic-realm"})]),
    # schemes and keys are case-insensitive, values are not; spaces around '=' and ','
    (['BEARER Realm = "R" , Service=svc'], [("bearer", {"realm": "R", "service": "svc"})]),
    # quoted-pair escapes
    (['Bearer realm="a\\"b",error="insufficient_scope"'],
     [("bearer", {"realm": 'a"b', "error": "insufficient_scope"})]),
    # two challenges in one value, and one per header line
    (['Bearer realm="x", Basic realm="y"', 'Basic realm="z"'],
     [("bearer", {"realm": "x"}), ("basic", {"realm": "y"}), ("basic", {"realm": "z"})]),
    (["Basic"], [("basic", {})]),
    ([""], []),
])
def test_parse_challenges(values, expected):
    assert _pairs(values) == expected


@pytest.mark.parametrize("status,body,kind,text", [
    (404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}',
     apierror.RegistryNotFound, "manifest unknown: manifest unknown"),
    (401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
     apierror.RegistryUnauthorized, "unauthorized: authentication required"),
    # a code distribution does not know is "unknown"; an empty message takes the code's own
    (400, b'{"errors":[{"code":"WEIRD","message":"odd"}]}', apierror.RegistryInvalid, "unknown: odd"),
    (404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}', apierror.RegistryNotFound,
     "blob unknown: blob unknown to registry"),
    (429, b'{"details":"slow down"}', apierror.RegistryUnavailable, "toomanyrequests: slow down"),
    (401, b"", apierror.RegistryUnauthorized, "unauthorized: authentication required"),
    (404, b"404 page not found\n", apierror.RegistryNotFound,
     "error parsing HTTP 404 response body: invalid character 'p' after top-level value: "
     '"404 page not found\\n"'),
    (400, b"{}", apierror.RegistryInvalid,
     'error parsing HTTP 400 response body: no error details found in HTTP response body: "{}"'),
    (500, b"boom", apierror.RegistryUnavailable, "received unexpected HTTP status: 500 Internal Server Error"),
    (400, b'{"errors":[{"code":"NAME_INVALID","message":"a"},{"code":"TAG_INVALID","message":"b"}]}',
     apierror.RegistryInvalid, "errors:\nname invalid: a\ntag invalid: b\n"),
])
def test_error_responses_are_worded_as_distribution_does(status, body, kind, text):
    err = apierror.from_response(status, body)
    assert type(err) is kind and str(err) == text


def test_bearer_error_in_the_challenge_comes_first():
    err = apierror.from_response(
        401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
        ['Bearer realm="r",error="insufficient_scope",scope="repository:a:pull"'])
    assert isinstance(err, apierror.RegistryDenied) and isinstance(err, PermissionDenied)
    assert err.codes == ("DENIED", "UNAUTHORIZED")
    assert str(err) == ("errors:\ndenied: requested access to the resource is denied\n"
                        "unauthorized: authentication required\n")
    assert err.texts[0] == "denied: requested access to the resource is denied"


def test_translate_pull_error():
    unknown = apierror.from_response(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
    out = apierror.translate_pull_error(unknown, "busybox", "busybox:nope")
    assert isinstance(out, NotFound)
    assert str(out) == "manifest for busybox:nope not found: manifest unknown: manifest unknown"
    name = apierror.from_response(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}')
    assert str(apierror.translate_pull_error(name, "a/b", "a/b:1")) == \
        "repository a/b not found: name unknown: repository name not known to registry"
    other = apierror.from_response(500, b"")
    assert apierror.translate_pull_error(other, "a", "a:1") is other


def test_connection_refused_is_worded_as_go_does():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port))
    except OSError as exc:
        err = apierror.connection_failed("GET", f"http://127.0.0.1:{port}/v2/", "127.0.0.1", port, exc)
    assert str(err) == f'Get "http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}: connect: connection refused'
