"""The classic builder's JSON stream: the builder's progress events as moby's
``builder/dockerfile`` and ``api/server/backend/build`` write them.

    Step 2/3 : RUN echo hi                      {"stream":"Step 2/3 : RUN echo hi"} {"stream":"\\n"}
     ---> Running in 5b2c1f9c8d3a               {"stream":" ---\\u003e Running in 5b2c1f9c8d3a\\n"}
    hi                                          {"stream":"hi\\n"}
    (stderr)                                    {"stream":"\\u001b[91merr\\n\\u001b[0m"}
    Removing intermediate container 5b2c1f...   {"stream":"Removing intermediate container ...\\n"}
     ---> 0a1b2c3d4e5f                          {"stream":" ---\\u003e 0a1b2c3d4e5f\\n"}
                                                {"aux":{"ID":"sha256:0a1b..."}}  (API 1.30+)
    Successfully built 0a1b2c3d4e5f             {"stream":"Successfully built 0a1b2c3d4e5f\\n"}
    Successfully tagged app:latest              {"stream":"Successfully tagged app:latest\\n"}

A failure after the first line is the stream's last message, with the exit code of a
failed RUN (``{"errorDetail":{"code":1,"message":...},"error":...}``: the docker CLI exits
with it). With ``q`` nothing is written until the end: the image id alone on success,
everything held back and the error on failure (moby's notVerboseBuffer).

A FROM's pull (``PullProgress``) is a JSON progress message already and goes as it is.
Lines are encoded as Go's json.Marshal writes them (``<``, ``>``, ``&`` escaped), so the
stream is byte for byte dockerd's.
"""

import json

from ketch import errors
from ketch.apitypes import progress as prog
from ketch.build.request import (BuildResult, Message, PullProgress, StageDone, StepCached,
                                 StepDone, StepOutput, StepRunning, StepStart)


def short_id(image_or_container_id: str) -> str:
    """moby's stringid.TruncateID: the algorithm dropped, 12 characters."""
    return image_or_container_id.partition(":")[2][:12] if ":" in image_or_container_id \
        else image_or_container_id[:12]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")  # Go's json.Marshal of a string(buf)


def messages(event) -> list[dict]:
    """The stream's messages for one progress event."""
    if isinstance(event, StepStart):
        # moby's printCommand: Fprintf then Fprintln, two writes, two messages
        return [prog.stream(f"Step {event.index}/{event.total} : {event.text}"), prog.stream("\n")]
    if isinstance(event, StepCached):
        return [prog.stream(" ---> Using cache\n")]
    if isinstance(event, StepRunning):
        return [prog.stream(f" ---> Running in {short_id(event.container_id)}\n")]
    if isinstance(event, StepOutput):
        # stderr comes already in red (moby's NewStderrWriter), from the RUN step
        return [prog.stream(_text(event.data))] if event.data else []
    if isinstance(event, StepDone):
        out = []
        if event.removed_container:
            out.append(prog.stream(f"Removing intermediate container {short_id(event.removed_container)}\n"))
        out.append(prog.stream(f" ---> {short_id(event.image_id)}\n"))
        return out
    if isinstance(event, Message):
        return [prog.stream(event.text)] if event.text else []
    if isinstance(event, StageDone):
        return [aux(event.image_id)]
    if isinstance(event, PullProgress):
        return [event.message]
    raise TypeError(f"not a build progress event: {event!r}")


def aux(image_id: str) -> dict:
    """moby's AuxFormatter.Emit("", BuildResult{ID}): no id, no progressDetail."""
    return {"aux": {"ID": image_id}}


def ending(result: BuildResult, tags: tuple[str, ...]) -> list[dict]:
    """After the build: "Successfully built" and one "Successfully tagged" a tag."""
    return ([prog.stream(f"Successfully built {short_id(result.image_id)}\n")]
            + [prog.stream(f"Successfully tagged {tag}\n") for tag in tags])


def failure(exc: BaseException) -> dict:
    """moby's streamformatter.FormatError; a failed RUN carries its exit code."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, errors.BuildStepFailed) and exc.exit_code:
        return {"errorDetail": {"code": exc.exit_code, "message": message}, "error": message}
    return prog.error(message)


def quiet_result(image_id: str) -> dict:
    """``q``: what a successful build writes, its id on a line."""
    return prog.stream(image_id + "\n")


_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})


def encode(msg: dict) -> bytes:
    """One message as moby writes it: Go's json.Marshal (HTML characters escaped, other
    text as UTF-8) and ``\\r\\n``."""
    text = json.dumps(msg, separators=(",", ":"), ensure_ascii=False).translate(_GO_ESCAPES)
    return text.encode() + prog.NEWLINE
