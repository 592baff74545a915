"""Compose's own errors: what the user sees, printed as is, exit status 1 unless told."""

from ketch.errors import KetchError


class ComposeError(KetchError):
    """A problem with the project or a command (a bad file, no such service, a failed step)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class LoadError(ComposeError):
    """The compose files cannot be read into a project. The message names the file, and the
    line and key where there is one: `validating /p/compose.yaml: services.web.ports ...`."""


def warn(message: str) -> None:
    """A warning as compose prints it through logrus on a terminal (`WARN[0000] ...`) on
    stderr; loading goes on. The loader's modules take a ``warn`` callable defaulting to this."""
    import sys
    print(f"WARN[0000] {message}", file=sys.stderr)
