"""The distribution error-code table: codes, messages and HTTP statuses word for word as
distribution has them (registry/api/errcode and registry/api/v2/errors.go), and the
error body they are sent in::

    {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry", "detail": "sha256:..."}]}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ketch.httpserver import Response, encode_json


@dataclass(frozen=True, slots=True)
class ErrorCode:
    value: str
    message: str
    status: int


_TABLE = (
    ErrorCode("UNKNOWN", "unknown error", 500),
    ErrorCode("UNSUPPORTED", "The operation is unsupported.", 405),
    ErrorCode("UNAUTHORIZED", "authentication required", 401),
    ErrorCode("DENIED", "requested access to the resource is denied", 403),
    ErrorCode("UNAVAILABLE", "service unavailable", 503),
    ErrorCode("TOOMANYREQUESTS", "too many requests", 429),
    ErrorCode("DIGEST_INVALID", "provided digest did not match uploaded content", 400),
    ErrorCode("SIZE_INVALID", "provided length did not match content length", 400),
    ErrorCode("RANGE_INVALID", "invalid content range", 416),
    ErrorCode("NAME_INVALID", "invalid repository name", 400),
    ErrorCode("TAG_INVALID", "manifest tag did not match URI", 400),
    ErrorCode("NAME_UNKNOWN", "repository name not known to registry", 404),
    ErrorCode("MANIFEST_UNKNOWN", "manifest unknown", 404),
    ErrorCode("MANIFEST_INVALID", "manifest invalid", 400),
    ErrorCode("MANIFEST_UNVERIFIED", "manifest failed signature verification", 400),
    ErrorCode("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", 400),
    ErrorCode("BLOB_UNKNOWN", "blob unknown to registry", 404),
    ErrorCode("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", 404),
    ErrorCode("BLOB_UPLOAD_INVALID", "blob upload invalid", 404),
    ErrorCode("PAGINATION_NUMBER_INVALID", "invalid number of results requested", 400),
)
CODES: Mapping[str, ErrorCode] = {code.value: code for code in _TABLE}

UNKNOWN = CODES["UNKNOWN"]
UNSUPPORTED = CODES["UNSUPPORTED"]
UNAUTHORIZED = CODES["UNAUTHORIZED"]
DENIED = CODES["DENIED"]
DIGEST_INVALID = CODES["DIGEST_INVALID"]
SIZE_INVALID = CODES["SIZE_INVALID"]
RANGE_INVALID = CODES["RANGE_INVALID"]
NAME_INVALID = CODES["NAME_INVALID"]
TAG_INVALID = CODES["TAG_INVALID"]
NAME_UNKNOWN = CODES["NAME_UNKNOWN"]
MANIFEST_UNKNOWN = CODES["MANIFEST_UNKNOWN"]
MANIFEST_INVALID = CODES["MANIFEST_INVALID"]
MANIFEST_BLOB_UNKNOWN = CODES["MANIFEST_BLOB_UNKNOWN"]
BLOB_UNKNOWN = CODES["BLOB_UNKNOWN"]
BLOB_UPLOAD_UNKNOWN = CODES["BLOB_UPLOAD_UNKNOWN"]
BLOB_UPLOAD_INVALID = CODES["BLOB_UPLOAD_INVALID"]
PAGINATION_NUMBER_INVALID = CODES["PAGINATION_NUMBER_INVALID"]

class _NoDetail:
    def __repr__(self) -> str:
        return "NO_DETAIL"


NO_DETAIL = _NoDetail()  # a detail left out: distribution's `detail,omitempty`


class RegistryError(Exception):
    """One or more distribution errors; the first one's status is the response's
    (distribution's errcode.ServeJSON). An error without a detail has no "detail" key
    (omitempty); ``detail=None`` given explicitly is sent as null, as distribution sends
    a nil list of access records."""

    def __init__(self, code: ErrorCode, detail: object = NO_DETAIL, *,
                 more: tuple[tuple[ErrorCode, object], ...] = (),
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(code.message if detail is NO_DETAIL or detail is None else f"{code.message}: {detail}")
        self.errors = ((code, detail),) + tuple(more)
        self.headers = headers

    @property
    def code(self) -> ErrorCode:
        return self.errors[0][0]

    @property
    def status(self) -> int:
        return self.code.status


def error_body(errors: tuple[tuple[ErrorCode, object], ...]) -> bytes:
    return encode_json({"errors": [
        {"code": code.value, "message": code.message} if detail is NO_DETAIL else
        {"code": code.value, "message": code.message, "detail": detail} for code, detail in errors]})


def error_response(error: RegistryError, headers: Mapping[str, str] | None = None) -> Response:
    merged = dict(headers or {})
    merged.update(error.headers or {})
    return Response(error.status, error_body(error.errors), merged, "application/json; charset=utf-8")
