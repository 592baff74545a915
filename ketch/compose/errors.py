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


def warn(message: str, stream=None) -> None:
    """A warning as compose's logrus prints it on stderr (``stream``): `WARN[0000] ...` on a
    terminal, else `time="..." level=warning msg="..."`. Loading and commands go on. Every
    compose warning goes through here, so one run prints one format."""
    import datetime
    import json
    import sys
    stream = stream or sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        stream.write(f"WARN[0000] {message}\n")
    else:
        now = datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")
        stream.write(f'time="{now}" level=warning msg={json.dumps(message)}\n')
    stream.flush()
