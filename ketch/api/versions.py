"""API versions: what this daemon speaks, and the check every request goes through."""

from ketch.errors import InvalidArgument

API_VERSION = "1.45"
MIN_API_VERSION = "1.24"


def _tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        raise InvalidArgument(f"invalid API version: {version}") from None


def check(version: str | None) -> None:
    if version is None:
        return
    wanted = _tuple(version)
    if wanted > _tuple(API_VERSION):
        raise InvalidArgument(f"client version {version} is too new. "
                              f"Maximum supported API version is {API_VERSION}")
    if wanted < _tuple(MIN_API_VERSION):
        raise InvalidArgument(f"client version {version} is too old. Minimum supported API "
                              f"version is {MIN_API_VERSION}, please upgrade your client to a newer version")


def at_least(version: str | None, minimum: str) -> bool:
    """True if the request's API version (default: ours) is ``minimum`` or newer."""
    return _tuple(version or API_VERSION) >= _tuple(minimum)
