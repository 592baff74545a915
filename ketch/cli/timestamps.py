"""``--since``/``--until`` values as moby's timetypes.GetTimestamp reads them: Go
durations, RFC 3339 times (with Go's own error words), Unix times."""

from ketch import timefmt
from ketch.cli.main import StatusError


def timestamp_arg(value: str, flag: str = "since", now: float | None = None) -> str:
    """timefmt.get_timestamp for the flag ``flag``, its errors as docker prints them."""
    if not value:
        return ""
    try:
        return timefmt.get_timestamp(value, now)
    except ValueError as exc:
        raise StatusError(1, f'invalid value for "{flag}": {exc}') from None
