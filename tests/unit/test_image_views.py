"""Image documents of the API (api/views.py)."""

from ketch.api import views
from ketch.engine.images.service import Image


def _image(last_tag_time: str) -> Image:
    config = {"architecture": "amd64", "os": "linux", "created": "2026-12-06T00:00:00Z",
              "rootfs": {"type": "layers", "diff_ids": []}}
    return Image("sha256:" + "a" * 64, config, "sha256:" + "b" * 64, "2026-12-06T00:00:00Z", 0, (), (),
                 last_tag_time=last_tag_time)


def test_last_tag_time_is_go_rfc3339nano():
    """A Go time.Time in JSON: the fraction's trailing zeros dropped (a tag time ending in 0
    failed `inspect -f '{{json .Metadata}}'` against docker's rendering, 1 run in 10)."""
    doc = views.image_json(_image("2026-12-06T23:30:43.506046020Z"))
    assert doc["Metadata"] == {"LastTagTime": "2026-12-06T23:30:43.50604602Z"}
    assert views.image_json(_image("2026-12-06T23:30:43.000000000Z"))["Metadata"]["LastTagTime"] == \
        "2026-12-06T23:30:43Z"
    assert views.image_json(_image(""))["Metadata"]["LastTagTime"] == "0001-01-01T00:00:00Z"
