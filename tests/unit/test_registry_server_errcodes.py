"""distribution's error-code table and error body."""

import json

import pytest

from ketch.registry.server import errcodes
from ketch.registry.server.errcodes import RegistryError, error_response


@pytest.mark.parametrize("value, message, status", [
    ("UNKNOWN", "unknown error", 500),
    ("UNSUPPORTED", "The operation is unsupported.", 405),
    ("UNAUTHORIZED", "authentication required", 401),
    ("DENIED", "requested access to the resource is denied", 403),
    ("UNAVAILABLE", "service unavailable", 503),
    ("TOOMANYREQUESTS", "too many requests", 429),
    ("DIGEST_INVALID", "provided digest did not match uploaded content", 400),
    ("SIZE_INVALID", "provided length did not match content length", 400),
    ("RANGE_INVALID", "invalid content range", 416),
    ("NAME_INVALID", "invalid repository name", 400),
    ("TAG_INVALID", "manifest tag did not match URI", 400),
    ("NAME_UNKNOWN", "repository name not known to registry", 404),
    ("MANIFEST_UNKNOWN", "manifest unknown", 404),
    ("MANIFEST_INVALID", "manifest invalid", 400),
    ("MANIFEST_UNVERIFIED", "manifest failed signature verification", 400),
    ("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", 400),
    ("BLOB_UNKNOWN", "blob unknown to registry", 404),
    ("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", 404),
    ("BLOB_UPLOAD_INVALID", "blob upload invalid", 404),
    ("PAGINATION_NUMBER_INVALID", "invalid number of results requested", 400),
])
def test_table(value, message, status):
    code = errcodes.CODES[value]
    assert (code.message, code.status) == (message, status)


def test_the_table_is_complete():
    assert len(errcodes.CODES) == 20


def test_error_body_lists_every_error_and_takes_the_first_status():
    error = RegistryError(errcodes.MANIFEST_BLOB_UNKNOWN, "sha256:aa",
                          more=((errcodes.MANIFEST_BLOB_UNKNOWN, "sha256:bb"),),
                          headers={"WWW-Authenticate": "x"})
    response = error_response(error, {"Docker-Distribution-API-Version": "registry/2.0"})
    assert response.status == 400
    assert response.content_type == "application/json; charset=utf-8"
    assert response.headers == {"Docker-Distribution-API-Version": "registry/2.0", "WWW-Authenticate": "x"}
    assert json.loads(response.body) == {"errors": [
        {"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": "sha256:aa"},
        {"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": "sha256:bb"}]}


def test_no_detail_is_left_out_and_none_is_null():
    body = error_response(RegistryError(errcodes.BLOB_UNKNOWN)).body
    assert body == b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}\n'
    body = error_response(RegistryError(errcodes.UNAUTHORIZED, None)).body
    assert body == b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}\n'
