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


RICH = """\
name: rich
include:
  - other.yaml
  - path: [a.yaml, b.yaml]
    env_file: .env
services:
  web:
    image: nginx:1.25
    build:
      context: ./web
      dockerfile: Dockerfile
      args: {A: "1", B: null}
      target: prod
      labels: [a=b]
      cache_from: [x]
      network: host
      shm_size: 64m
    command: ["npm", "start"]
    entrypoint: /bin/sh -c
    environment: [A=1, B]
    env_file: [.env, {path: x.env, required: false}]
    ports:
      - "8080:80"
      - 9000
      - {target: 81, published: "8081", host_ip: 127.0.0.1, protocol: udp, mode: host}
    expose: ["3000", 4000]
    volumes:
      - data:/data
      - {type: bind, source: ., target: /src, read_only: true, bind: {create_host_path: true}}
      - {type: volume, source: data, target: /v, volume: {nocopy: true}}
      - {type: tmpfs, target: /t, tmpfs: {size: 1000}}
    tmpfs: [/run, /tmp]
    networks:
      front:
        aliases: [w]
        ipv4_address: 10.0.0.5
      back: null
    depends_on:
      db: {condition: service_healthy, restart: true}
    healthcheck: {test: [CMD, curl, -f, localhost], interval: 10s, timeout: 2s, retries: 3, start_period: 1s}
    restart: unless-stopped
    container_name: web
    hostname: web
    labels: {com.example: x}
    user: "1000:1000"
    working_dir: /app
    stop_signal: SIGTERM
    stop_grace_period: 30s
    ulimits: {nproc: 65535, nofile: {soft: 1024, hard: 2048}}
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    privileged: false
    read_only: false
    init: true
    shm_size: 128m
    sysctls: {net.core.somaxconn: 1024}
    devices: [/dev/fuse]
    security_opt: [no-new-privileges]
    deploy:
      replicas: 2
      resources:
        limits: {cpus: "0.5", memory: 512M, pids: 100}
        reservations: {memory: 128M}
    mem_limit: 1g
    cpus: 1.5
    extra_hosts: ["host.docker.internal:host-gateway"]
    dns: [8.8.8.8]
    dns_search: example.com
    logging: {driver: json-file, options: {max-size: 10m}}
    secrets: [s1, {source: s2, target: /run/s2, mode: 0400}]
    configs: [{source: c1, target: /etc/c1}]
    links: ["db:database"]
    external_links: [redis]
    volumes_from: [db]
    tty: true
    stdin_open: true
    pull_policy: always
    platform: linux/amd64
    profiles: [web]
    x-custom: {anything: [1]}
  db:
    image: postgres
    network_mode: "service:web"
    scale: 1
networks:
  front:
    driver: bridge
    driver_opts: {com.docker.network.bridge.name: br0}
    ipam: {driver: default, config: [{subnet: 10.0.0.0/24, gateway: 10.0.0.1, ip_range: 10.0.0.0/25}]}
    internal: true
    labels: [a=b]
  back: {external: true, name: outside}
volumes:
  data: {driver: local, driver_opts: {type: none, o: bind, device: /srv}, labels: {a: b}}
  old: {external: true}
secrets:
  s1: {file: ./s1.txt}
  s2: {environment: S2}
configs:
  c1: {content: "hello"}
x-top: 1
"""

_ODD = [None, True, -1, 1.5, "", ["x"], [1, 1], {"bogus": 1}]


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, path + (i,))


def _replaced(doc, path, new):
    """``doc`` with the value at ``path`` replaced, sharing what is off the path."""
    if not path:
        return new
    out = dict(doc) if isinstance(doc, dict) else list(doc)
    out[path[0]] = new if len(path) == 1 else _replaced(doc[path[0]], path[1:], new)
    return out


def test_conformance_agrees_with_jsonschema():
    """The fast check says yes exactly when jsonschema does, over every value of a rich file
    replaced by values of every type, and an unknown key added to every mapping."""
    base = yamlfile.load(RICH, FILE).data
    validator = schema._get_validator()
    checker = schema._checker()
    assert checker.conforms(base) and validator.is_valid(base)
    cases = 0
    for path in list(_paths(base))[1:]:
        for new in _ODD:
            doc = _replaced(base, path, new)
            assert checker.conforms(doc) == validator.is_valid(doc), (path, new)
            cases += 1
    for path in _paths(base):
        parent = base
        for part in path:
            parent = parent[part]
        if isinstance(parent, dict):
            doc = _replaced(base, path + ("bogus",), 1)
            assert checker.conforms(doc) == validator.is_valid(doc), path
    assert cases > 1500
