"""One image to or from a registry, through the daemon (POST /images/create, /push), with
the progress events compose 2.29 reports (pull.go's pullServiceImage, push.go's
pushServiceImage), and the pull policies' decision (mustPull).

Events follow compose's plain lines (`` web Pulling ``, `` 9ad63333ebc9 Pull complete ``,
`` Pushing reg/app:1: 9ad63333ebc9 Pushed ``): ``progress.event(kind, name, status,
text, level=)`` of ``ketch.compose.progress``, kind "" (the id is the service or layer).
"""

from __future__ import annotations

import time

from ketch.client.http import HTTPError
from ketch.compose.errors import ComposeError
from ketch.compose.model import duration_ns


def event(progress, ident: str, text: str, level: str, status: str = "") -> None:
    """A compose event (its ID, Text, StatusText) with no kind."""
    if progress is not None:
        progress.event("", ident, status, text, level=level)


def error_text(exc: Exception) -> str:
    if isinstance(exc, HTTPError) and exc.status:
        return f"Error response from daemon: {exc}"
    return str(exc)


def parse_ref(name: str):
    from ketch.errors import InvalidArgument
    from ketch.oci import reference
    try:
        return reference.parse(name)
    except InvalidArgument as exc:
        raise ComposeError(str(exc)) from None


def _auth(domain: str) -> str:
    """X-Registry-Auth: the stored login for that registry (ketch's and docker's config)."""
    from ketch.cli import credentials
    try:
        return credentials.lookup(None, credentials.server_key(domain)).header()
    except credentials.CredentialsError as exc:
        raise ComposeError(str(exc)) from None


def _follow(resp, on_layer) -> None:
    """Read a pull's or push's JSON stream to its end: its error raised, each layer's
    status (not the bars' updates) handed to ``on_layer(layer, status)``."""
    from ketch import fastjson
    from ketch.cli import jsonmessage
    for raw in jsonmessage.response_lines(resp):
        if not raw.strip():
            continue
        msg = fastjson.loads(raw)
        if msg.get("errorDetail") or msg.get("error"):
            raise ComposeError((msg.get("errorDetail") or {}).get("message") or msg.get("error"))
        detail = msg.get("progressDetail")
        if on_layer is not None and msg.get("id") and msg.get("status") and \
                not (isinstance(detail, dict) and detail.get("current")):
            on_layer(msg["id"], msg["status"])


def pull_one(client, service: str, image: str, platform: str | None, progress, *, quiet: bool,
             buildable: bool) -> str:
    """Pull a service's image; its ID. A failure is an Error event (a Warning when the
    service can be built instead) and a ComposeError."""
    ref = parse_ref(image)
    event(progress, service, "Pulling", "working")
    try:
        resp = client.pull(ref.familiar_name, ref.digest or ref.tag, platform, _auth(ref.domain))
        _follow(resp, None if quiet else lambda layer, status: event(progress, layer, status, "working"))
    except (HTTPError, ComposeError) as exc:
        if buildable:
            event(progress, service, "Warning", "warning", error_text(exc))
        else:
            event(progress, service, "Error", "error", error_text(exc))
        raise ComposeError(error_text(exc)) from None
    event(progress, service, "Pulled", "done")
    try:
        return client.inspect_image(image).get("Id", "")
    except HTTPError as exc:
        raise ComposeError(error_text(exc)) from None


def push_one(client, tag: str, progress, *, quiet: bool) -> None:
    """Push one tag; its layers' events as compose's (``Pushing <tag>: <layer>``)."""
    ref = parse_ref(tag)
    try:
        resp = client.push(ref.familiar_name, ref.tag, _auth(ref.domain))
        _follow(resp, None if quiet else lambda layer, status: event(
            progress, f"Pushing {tag}: {layer}", status,
            "done" if status.lower() in ("pushed", "layer already exists") else "working"))
    except HTTPError as exc:
        raise ComposeError(error_text(exc)) from None


def must_pull(policy: str | None, local: dict | None, now: float | None = None) -> bool:
    """Whether `up` pulls an image under a pull policy, ``local`` its inspection (None
    when absent), as compose's mustPull: always; never and build not; daily, weekly and
    every_<duration> when the local tag is older than that; missing (the default) when
    it is not here."""
    policy = policy or "missing"
    if policy == "always":
        return True
    if policy in ("never", "build"):
        return False
    if local is None:
        return True
    window = refresh_window(policy)
    if window is None:
        return False
    tagged = _tag_time(local)
    return tagged is None or (time.time() if now is None else now) > tagged + window


def refresh_window(policy: str) -> float | None:
    """daily, weekly, every_12h: seconds; None for the other policies."""
    if policy == "daily":
        return 86400.0
    if policy == "weekly":
        return 7 * 86400.0
    if policy.startswith("every_"):
        try:
            return duration_ns(policy.removeprefix("every_")) / 1e9
        except ValueError:
            raise ComposeError(f"invalid pull_policy: {policy}") from None
    return None


def _tag_time(info: dict) -> float | None:
    """When the image was last tagged here (else created), in seconds."""
    from ketch import timefmt
    for text in ((info.get("Metadata") or {}).get("LastTagTime"), info.get("Created")):
        try:
            ns = timefmt.parse_ns(text) if text else 0
        except ValueError:
            ns = 0
        if ns:
            return ns / 1e9
    return None
