"""The Engine API's swagger (tests/golden/engine-api-v1.45.yaml, moby's api/swagger.yaml at
API 1.45) as the key set of ketch's answers: ``missing(doc, schema)`` lists every property
the swagger declares that an answer lacks, however deep, following $ref and allOf.

A key may be absent only where moby's Go type says ``omitempty`` and the value is empty
(OMITEMPTY below, read off moby v26.1's api/types), so a test built on this cannot pass
by a key being forgotten on both sides.
"""

import functools
import os

import yaml

SPEC = os.path.join(os.path.dirname(__file__), "golden", "engine-api-v1.45.yaml")

# swagger definition (or inline title) -> properties that moby 26.1 omits when empty
OMITEMPTY = {
    "ContainerInspectResponse": {"SizeRw", "SizeRootFs"},  # pointers, set with ?size=1
    "ContainerConfig": {"ExposedPorts", "Healthcheck", "ArgsEscaped", "NetworkDisabled",
                        "MacAddress", "StopSignal", "StopTimeout", "Shell"},
    "ImageInspect": {"Variant", "OsVersion"},
    "ImageDeleteResponseItem": {"Untagged", "Deleted"},
    # ImageInspect.Config is a container.Config too: the same tags
    "ImageConfig": {"ExposedPorts", "Healthcheck", "ArgsEscaped", "NetworkDisabled",
                    "MacAddress", "StopSignal", "StopTimeout", "Shell"},
    "ContainerState": {"Health"},
    "HostConfig": {"KernelMemory", "KernelMemoryTCP", "Annotations", "StorageOpt", "Tmpfs",
                   "Sysctls", "Runtime", "Mounts", "Init"},
    "MountPoint": {"Type", "Name", "Driver"},
    "SystemInfo": {"KernelMemory", "KernelMemoryTCP", "CgroupVersion", "ProductLicense",
                   "DefaultAddressPools"},
    "Runtime": {"path", "runtimeArgs", "runtimeType", "options", "status"},
    "SwarmInfo": {"Nodes", "Managers", "Cluster"},
    "SystemVersion": {"Platform", "Components", "MinAPIVersion", "KernelVersion",
                      "Experimental", "BuildTime"},
    "ComponentVersion": {"Details"},
}


@functools.cache
def spec() -> dict:
    with open(SPEC) as f:
        return yaml.safe_load(f)


def definition(name: str) -> dict:
    return spec()["definitions"][name]


def ref(name: str) -> dict:
    """A schema naming definition ``name`` (so its OMITEMPTY entry applies)."""
    definition(name)  # KeyError for a name the swagger does not have
    return {"$ref": f"#/definitions/{name}"}


def operation_schema(path: str, method: str = "get", status: int = 200) -> dict:
    return spec()["paths"][path][method]["responses"][status]["schema"]


def _resolve(schema: dict) -> tuple[str | None, dict]:
    name = schema.get("title")
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = definition(name)
    if "allOf" in schema:
        merged: dict = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            _, sub = _resolve(part)
            merged["properties"].update(sub.get("properties", {}))
        schema = {**schema, **merged}
    return schema.get("title", name) if name is None else name, schema


def missing(doc: object, schema: dict, where: str = "") -> list[str]:
    """Every swagger property absent from doc (as "Outer.Inner.Key"), descending into the
    values doc has; null values, and keys moby omits when empty, are not descended/required."""
    name, schema = _resolve(schema)
    out: list[str] = []
    if doc is None:
        return out
    if isinstance(doc, dict) and "properties" in schema:
        allowed = OMITEMPTY.get(name, set())
        for key, sub in schema["properties"].items():
            if key not in doc:
                if key not in allowed:
                    out.append(f"{where}{key}")
                continue
            out += missing(doc[key], sub, f"{where}{key}.")
    elif isinstance(doc, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, value in doc.items():
            out += missing(value, schema["additionalProperties"], f"{where}{key}.")
    elif isinstance(doc, list) and isinstance(schema.get("items"), dict):
        for i, value in enumerate(doc):
            out += missing(value, schema["items"], f"{where}{i}.")
    return out
