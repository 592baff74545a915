"""The labels Compose v2 puts on what it makes, and the configuration hash.

Compose finds its containers, networks and volumes again only through these labels, so
ketch compose recognises what Docker's compose made, and Docker's compose what ketch's
made. The config hash is a service's canonical form with what does not change a running
container left out (build, pull_policy, scale, deploy.replicas, depends_on, profiles), as
compose's ``ServiceHash`` does; ketch's JSON is not Go's byte for byte, so a container
made by Docker's compose is recreated once by ketch's.
"""

import dataclasses
import hashlib
import json

from ketch.compose.model import Service, to_canonical

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
CONTAINER_NUMBER = "com.docker.compose.container-number"
CONFIG_HASH = "com.docker.compose.config-hash"
ONEOFF = "com.docker.compose.oneoff"  # "True" for `run` containers, else "False"
SLUG = "com.docker.compose.slug"  # a `run` container's random suffix
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"  # comma-separated
ENVIRONMENT_FILE = "com.docker.compose.project.environment_file"
DEPENDS_ON = "com.docker.compose.depends_on"  # "db:service_healthy:false,cache:service_started:true"
IMAGE = "com.docker.compose.image"  # the image ID the container was made from
VERSION = "com.docker.compose.version"
REPLACE = "com.docker.compose.replace"  # on a recreated container: the one it replaced
NETWORK = "com.docker.compose.network"  # on networks: the project's key
VOLUME = "com.docker.compose.volume"  # on volumes: the project's key

COMPOSE_VERSION = "2.29.7"  # the Compose v2 release whose behaviour ketch compose follows


def config_hash(service: Service) -> str:
    """sha256 hex of the service's canonical form, without what `up` may change in place."""
    deploy = service.deploy
    if deploy is not None:
        deploy = dataclasses.replace(deploy, replicas=1)
    plain = dataclasses.replace(service, build=None, pull_policy=None, scale=None, deploy=deploy,
                                depends_on={}, profiles=[])
    doc = json.dumps(to_canonical(plain), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(doc.encode()).hexdigest()


def depends_on_label(service: Service) -> str:
    return ",".join(f"{name}:{dep.condition}:{'true' if dep.restart else 'false'}"
                    for name, dep in service.depends_on.items())


def project_filter(project: str, *, oneoff: bool | None = False) -> dict[str, list[str]]:
    """The Engine API filter selecting a project's containers (``oneoff=None``: run ones too)."""
    wanted = [f"{PROJECT}={project}"]
    if oneoff is not None:
        wanted.append(f"{ONEOFF}={'True' if oneoff else 'False'}")
    return {"label": wanted}
