"""One module per noun; each command is a function ``(cli, args, path) -> exit code``."""

from ketch.client.http import ConnectionFailed, HTTPError


def daemon_error(exc: Exception) -> str:
    """How the docker CLI shows an error: daemon answers are prefixed, the rest as is."""
    if isinstance(exc, HTTPError) and exc.status:
        return f"Error response from daemon: {exc}"
    return str(exc)


API_ERRORS = (HTTPError, ConnectionFailed)
