"""schema: the specification's JSON schema with compose-go's choice and wording of the error,
the file and the line; the obsolete version warning."""

import pytest

from ketch.compose.errors import LoadError
from ketch.compose.loader import schema, yamlfile

FILE = "/p/compose.yaml"


def check(text):
    doc = yamlfile.load(text, FILE)
    schema.validate(doc.data, FILE, doc)


def test_valid():
    check("version: '3'\nname: p\nx-top: 1\nservices:\n  web:\n    image: nginx\n    x-any: {a: 1}\n"
          "    ports: ['80:80', {target: 81, published: '8081'}]\n    environment: {A: 1, B: null, C: true}\n"
          "    healthcheck: {test: [CMD, 'true'], interval: 1m30s}\n"
          "networks:\n  n: {}\nvolumes:\n  v:\n")


@pytest.mark.parametrize("text,message,line", [
    ("helicopters: {}\n", "additional properties 'helicopters' not allowed", 1),
    ("services:\n  web:\n    image: x\n    foo: bar\n", "services.web additional properties 'foo' not allowed", 4),
    ("services:\n  - foo:\n      image: busybox\n", "services must be a mapping", 1),
    ("services:\n  foo: []\n", "services.foo must be a mapping", 2),
    ("services:\n  foo:\n    image: [busybox, latest]\n", "services.foo.image must be a string", 3),
    ("services:\n  e:\n    image: busybox\n    environment:\n      FOO: ['1']\n",
     "services.e.environment.FOO must be a boolean, null, number or string", 5),
    ("services:\n  e:\n    environment: FOO=1\n", "services.e.environment must be a mapping", 3),
    ("services:\n  t:\n    image: nginx\n    volumes:\n      - type: tmpfs\n        target: /app\n        foo:\n          bar: zot\n",
     "services.t.volumes.0 additional properties 'foo' not allowed", 7),
    ("services:\n  f:\n    deploy:\n      resources:\n        impossible:\n          x: 1\n",
     "services.f.deploy.resources additional properties 'impossible' not allowed", 5),
    ("name: 123\n", "name must be a string", 1),
    ("networks:\n  default: 1\n", "networks.default must be a mapping or null", 2),
    ("volumes:\n  data: []\n", "volumes.data must be a mapping or null", 2),
    ("services:\n  w:\n    depends_on:\n      db:\n        condition: sometimes\n",
     "services.w.depends_on.db.condition value must be one of 'service_started', 'service_healthy', "
     "'service_completed_successfully'", 5),
    ("services:\n  w:\n    ports: [80, 80]\n", "services.w.ports items at 0 and 1 are equal", 3),
])
def test_errors(text, message, line):
    with pytest.raises(LoadError) as info:
        check(text)
    assert str(info.value) == f"validating {FILE}: {message} (line {line})"
    assert (info.value.file, info.value.line) == (FILE, line)


CAST_FULL = """\
name: load-with-interpolation-cast-full
services:
  web:
    configs:
      - source: appconfig
        mode: $theint
    healthcheck:
      retries: ${theint}
      disable: $thebool
    deploy:
      replicas: $theint
      update_config: {parallelism: $theint, max_failure_ratio: $thefloat}
      restart_policy: {max_attempts: $theint}
    ports:
      - $theint
      - "34567"
      - target: $theint
        published: "$theint"
        x-foo-bar: true
    ulimits:
      nproc: $theint
      nofile: {hard: $theint, soft: $theint}
    privileged: $thebool
    shm_size: ${thesize}
    stop_grace_period: ${theduration}
    volumes:
      - {source: data, type: volume, target: /data, read_only: $thebool, volume: {nocopy: $thebool}}
configs:
  appconfig: {external: $thebool}
volumes:
  data: {external: $thebool}
networks:
  front: {external: $thebool, internal: $thebool, attachable: $thebool}
  back:
"""


def test_interpolated_and_cast_document_is_valid():
    from ketch.compose.loader.interpolate import interpolate
    env = {"theint": "555", "thefloat": "3.14", "thebool": "true", "theduration": "60s", "thesize": "2gb"}
    doc = yamlfile.load(CAST_FULL, FILE)
    data = interpolate(doc.data, env.get, FILE, warn=None)
    schema.validate(data, FILE, doc)
    web = data["services"]["web"]
    assert web["ports"] == ["555", "34567", {"target": 555, "published": "555", "x-foo-bar": True}]
    assert web["ulimits"] == {"nproc": 555, "nofile": {"hard": 555, "soft": 555}}
    assert web["deploy"]["update_config"] == {"parallelism": 555, "max_failure_ratio": 3.14}
    assert web["configs"][0]["mode"] == "555" and web["shm_size"] == "2gb"
    assert data["networks"]["front"] == {"external": True, "internal": True, "attachable": True}


def test_without_yamldoc_no_line():
    with pytest.raises(LoadError, match=r"^validating f: services must be a mapping$"):
        schema.validate({"services": []}, "f")


def test_version_warning():
    assert schema.warnings({"version": "3.8", "services": {}}, FILE) == [
        f"{FILE}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion"]
    assert schema.warnings({"services": {}}, FILE) == []
