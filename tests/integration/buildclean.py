"""What builds on a worker's shared daemon leave, removed, so the next test there finds only
its base images: failed steps' containers (moby's --rm keeps them), the images a rebuilt tag
left dangling, and the build cache. A test on the shared daemon runs alone on it, so what
is stopped or dangling when it ends is its own."""

import json
import urllib.parse


def remove_build_leftovers(daemon) -> None:
    stopped = urllib.parse.quote(json.dumps({"status": ["exited", "created"]}))
    status, containers = daemon.api("GET", f"/containers/json?all=1&filters={stopped}")
    assert status == 200, containers
    for c in containers:
        daemon.api("DELETE", f"/containers/{c['Id']}?force=1")
    for _ in range(2):  # the cache's images go, then what they left dangling
        assert daemon.api("POST", "/build/prune?all=1")[0] == 200
        assert daemon.api("POST", "/images/prune")[0] == 200
