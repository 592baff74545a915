"""Reproducible builds: with SOURCE_DATE_EPOCH, two daemons on two data roots build the same
context, written at different times, into the same image (same id, same layer digests)."""

import json

import pytest

from tests.integration.conftest import destroy_daemon, make_daemon
from tests.integration.test_build_cache import build

pytestmark = pytest.mark.integration

DOCKERFILE = """FROM busybox
ENV APP=/app
COPY app /app/
WORKDIR /app/data
RUN echo built > /app/data/out && mkdir -p /var/made && touch /var/made/file
COPY conf.txt /etc/conf.txt
CMD ["cat", "/app/data/out"]
"""


FILES = {"Dockerfile": DOCKERFILE, "app/main.sh": "echo hi\n", "app/lib/util.sh": "true\n",
         "conf.txt": "k=v\n"}


@pytest.fixture
def two_daemons():
    first = make_daemon()
    try:
        second = make_daemon()
    except BaseException:
        destroy_daemon(first)
        raise
    yield first, second
    try:
        destroy_daemon(second)
    finally:
        destroy_daemon(first)


def _layers(daemon, image_id: str) -> list[str]:
    status, doc = daemon.api("GET", f"/images/{image_id}/json")
    assert status == 200
    return doc["RootFS"]["Layers"]


def test_two_daemons_build_the_same_image(two_daemons):
    first, second = two_daemons
    epoch = json.dumps({"SOURCE_DATE_EPOCH": "1600000000"})
    # the context's files written at other times on each side: their mtimes are clamped
    one, _ = build(first, FILES, mtime=1_700_000_000, buildargs=epoch, t="repro:1")
    two, _ = build(second, FILES, mtime=1_800_000_000, buildargs=epoch, t="repro:1")
    assert one == two
    assert _layers(first, one) == _layers(second, two)
    status, doc = first.api("GET", f"/images/{one}/json")
    assert doc["Created"] == "2020-09-13T12:26:40Z"
    status, history = first.api("GET", f"/images/{one}/history")
    assert {h["Created"] for h in history[:6]} == {1_600_000_000}
    # the same build without the epoch differs (times and the step containers are recorded)
    other, _ = build(second, FILES, nocache=1)
    assert other != two
