"""The container config a build carries from step to step, as a dict in Docker's JSON form.

moby's classic builder threads one ``container.Config`` (its ``runConfig``) through the
steps; every image it makes stores a copy as ``config`` and the step's variant as
``container_config``. Here it is a plain dict (the JSON edge: it goes into the image
document as is), and this module is the one place that knows its shape: the field order
Go marshals it in, which fields are ``omitempty``, and what a copy must not share.
"""

import copy

# container.Config (api/types/container, 20.10) in declaration order; True: omitempty
FIELDS = (
    ("Hostname", "", False), ("Domainname", "", False), ("User", "", False),
    ("AttachStdin", False, False), ("AttachStdout", False, False),
    ("AttachStderr", False, False), ("ExposedPorts", None, True), ("Tty", False, False),
    ("OpenStdin", False, False), ("StdinOnce", False, False), ("Env", None, False),
    ("Cmd", None, False), ("Healthcheck", None, True), ("ArgsEscaped", False, True),
    ("Image", "", False), ("Volumes", None, False), ("WorkingDir", "", False),
    ("Entrypoint", None, False), ("NetworkDisabled", False, True),
    ("MacAddress", "", True), ("OnBuild", None, False), ("Labels", None, False),
    ("StopSignal", "", True), ("StopTimeout", None, True), ("Shell", None, True),
)
_KNOWN = {name for name, _, _ in FIELDS}
_MAPS = ("ExposedPorts", "Volumes", "Labels")

DEFAULT_SHELL = ("/bin/sh", "-c")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def empty() -> dict:
    return normalized({})


def normalized(config: dict | None) -> dict:
    """``config`` as Go would marshal a container.Config decoded from it: every field in
    order, zero values where absent, omitempty fields only when set; unknown keys kept
    after (a foreign image's extras survive a rebuild). Deep-copied: nothing shared."""
    config = config or {}
    out = {}
    for name, zero, omitempty in FIELDS:
        value = config.get(name, zero)
        if value is None and zero is not None:
            value = zero
        if omitempty and not value:
            continue
        if name in _MAPS and value:
            value = dict(sorted(value.items()))  # Go marshals a map's keys sorted
        out[name] = copy.deepcopy(value)
    for name, value in config.items():
        if name not in _KNOWN:
            out[name] = copy.deepcopy(value)
    return out


def shell(config: dict) -> list[str]:
    """getShell: the SHELL the config names, else /bin/sh -c."""
    return list(config.get("Shell") or DEFAULT_SHELL)


def with_default_path(config: dict) -> dict:
    """setDefaultPath: a stage's config gets PATH unless its Env has one."""
    env = list(config.get("Env") or [])
    if not any(e.split("=", 1)[0] == "PATH" for e in env):
        env.append(DEFAULT_PATH)
    return {**config, "Env": env}


_HEALTH_FIELDS = ("Interval", "Timeout", "StartPeriod", "Retries")


def merged_health(user: dict | None, image: dict | None) -> dict | None:
    """The Healthcheck part of moby's create-time merge: unset fields from the image's."""
    if not image:
        return user
    if user is None:
        return copy.deepcopy(image)
    out = dict(user)
    if not out.get("Test"):
        out["Test"] = list(image.get("Test") or [])
    for name in _HEALTH_FIELDS:
        if not out.get(name) and image.get(name):
            out[name] = image[name]
    return out


def merged_for_container(user: dict, image: dict) -> dict:
    """moby's ``merge(userConf, imageConf)`` as container create applies it: what a
    container made from ``image`` with ``user`` as its config records. The classic
    builder's steps that run in a container carry it in their container_config
    (``Labels`` {} rather than null, the image's Env added, ...)."""
    out = copy.deepcopy(user)
    if not out.get("User"):
        out["User"] = image.get("User") or ""
    if not out.get("ExposedPorts"):
        if image.get("ExposedPorts") is not None:
            out["ExposedPorts"] = copy.deepcopy(image["ExposedPorts"])
    elif image.get("ExposedPorts"):
        for port in image["ExposedPorts"]:
            out["ExposedPorts"].setdefault(port, {})
    if not out.get("Env"):
        out["Env"] = copy.deepcopy(image.get("Env"))
    else:
        keys = {e.split("=", 1)[0] for e in out["Env"]}
        out["Env"] = list(out["Env"]) + [e for e in image.get("Env") or ()
                                         if e.split("=", 1)[0] not in keys]
    labels = dict(out.get("Labels") or {})
    for key, value in (image.get("Labels") or {}).items():
        labels.setdefault(key, value)
    out["Labels"] = labels
    if not out.get("Entrypoint"):
        if not out.get("Cmd"):
            out["Cmd"] = copy.deepcopy(image.get("Cmd"))
        if out.get("Entrypoint") is None:
            out["Entrypoint"] = copy.deepcopy(image.get("Entrypoint"))
    out["Healthcheck"] = merged_health(out.get("Healthcheck"), image.get("Healthcheck"))
    if not out.get("WorkingDir"):
        out["WorkingDir"] = image.get("WorkingDir") or ""
    if not out.get("Volumes"):
        out["Volumes"] = copy.deepcopy(image.get("Volumes"))
    else:
        out["Volumes"] = {**out["Volumes"], **(image.get("Volumes") or {})}
    if not out.get("StopSignal"):
        out["StopSignal"] = image.get("StopSignal") or ""
    return normalized(out)
