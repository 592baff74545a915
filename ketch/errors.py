"""One error taxonomy for all of ketch.

Every layer raises these; only ``api/httpstatus.py`` maps them to HTTP statuses and
only ``cli/main.py`` maps them to exit codes. The message is the text the user sees,
so where Docker has a wording the message uses it word for word (clients such as
docker-py classify errors by matching those texts).
"""


class KetchError(Exception):
    """Base class: an error whose message is safe to show to the user."""


class NotFound(KetchError):
    pass


class AlreadyExists(KetchError):
    pass


class Conflict(KetchError):
    pass


class InvalidArgument(KetchError):
    pass


class FailedPrecondition(KetchError):
    pass


class PermissionDenied(KetchError):
    pass


class Unavailable(KetchError):
    pass


class NotImplementedYet(KetchError):
    pass


class Internal(KetchError):
    pass


class ExecFailed(KetchError):
    """The container's process could not be executed.

    ``exit_code`` is Docker's: 126 (found but not executable) or 127 (not found).
    """

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


# Docker's texts, word for word.
class BuildStepFailed(KetchError):
    """A build step's command exited non-zero: moby's ``jsonmessage`` error with its code
    ("The command '/bin/sh -c false' returned a non-zero code: 1")."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def no_such_container(ref: str) -> NotFound:
    return NotFound(f"No such container: {ref}")


def no_such_image(ref: str) -> NotFound:
    return NotFound(f"No such image: {ref}")


def name_in_use(name: str, cid: str) -> Conflict:
    return Conflict(
        f'Conflict. The container name "/{name}" is already in use by container "{cid}". '
        "You have to remove (or rename) that container to be able to reuse that name."
    )


def cannot_remove_running(name: str, paused: bool = False, restarting: bool = False) -> Conflict:
    """moby 26's cleanupContainer, naming the container as it does (``/name``).

    (dockerd 20.10 said "You cannot remove a running container <id>. Stop the container
    before attempting removal or force remove"; API 1.45 is moby 26's wording.)
    """
    if paused:
        return Conflict(f'cannot remove container "/{name}": container is paused and must be unpaused first')
    state = "restarting" if restarting else "running"
    return Conflict(f'cannot remove container "/{name}": container is {state}: '
                    "stop the container before removing or force remove")


def wrapped(exc: KetchError, prefix: str) -> KetchError:
    """``exc`` with ``prefix: `` before its message, its kind (and HTTP status) kept: Go's
    ``errors.Wrap`` as moby's routes use it (``cannot kill container: NAME: ...``)."""
    out = type(exc).__new__(type(exc))
    out.__dict__.update(exc.__dict__)  # ExecFailed's exit_code
    out.args = (f"{prefix}: {exc}",)
    return out


def cannot_remove_default_link() -> Internal:
    # moby returns it as a plain error: a 500, despite the word
    return Internal("Conflict, cannot remove the default link name of the container")
