"""Errors -> HTTP responses: the one table (moby's ``httpstatus.FromError``)."""

import logging

from ketch import errors
from ketch.api.http import Request, Response, json_response

log = logging.getLogger(__name__)

_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (errors.NotFound, 404),
    (errors.AlreadyExists, 409),
    (errors.Conflict, 409),
    (errors.ExecFailed, 400),
    (errors.InvalidArgument, 400),
    (errors.FailedPrecondition, 412),
    (errors.PermissionDenied, 403),
    (errors.NotImplementedYet, 501),
    (errors.Unavailable, 503),
    (errors.Internal, 500),
)


def status_of(exc: BaseException) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_response(request: Request | None, exc: BaseException) -> Response:
    status = status_of(exc)
    if not isinstance(exc, errors.KetchError):
        log.exception("unexpected error serving %s %s", request.method if request else "-",
                      request.path if request else "-", exc_info=exc)
    message = str(exc) or exc.__class__.__name__
    return json_response({"message": message}, status)
