"""The registry server's HTTP API in-process (in-memory storage, a loopback port, httpx):
uploads, blobs, manifests, listings, errors, as distribution answers them."""

import asyncio
import hashlib
import io
import json
import threading

import httpx
import pytest

from ketch.registry.server import gc, manifests
from ketch.registry.server.app import build_server
from ketch.registry.server.auth.access import AllowAll
from ketch.registry.server.context import Context
from ketch.registry.server.drivers.inmemory import InMemoryDriver
from ketch.registry.server.store import Store

V2 = {"Docker-Distribution-API-Version": "registry/2.0"}


class Running:
    def __init__(self, **options) -> None:
        self.store = Store(InMemoryDriver())
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = build_server(Context(self.store, **options), AllowAll())
        host, port = asyncio.run_coroutine_threadsafe(self.server.serve_tcp("127.0.0.1", 0), self.loop).result(10)
        self.base = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.base, timeout=10)

    def stop(self) -> None:
        self.client.close()
        asyncio.run_coroutine_threadsafe(self.server.close(2), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def reg():
    running = Running()
    yield running
    running.stop()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def errors(response) -> list[tuple[str, object]]:
    """(code, detail) of each error; detail "-" when left out (distribution's omitempty)."""
    return [(e["code"], e.get("detail", "-")) for e in response.json()["errors"]]


def push_blob(reg, name: str, data: bytes) -> str:
    d = digest(data)
    r = reg.client.post(f"/v2/{name}/blobs/uploads/", params={"digest": d}, content=data)
    assert r.status_code == 201, r.text
    return d


def image(reg, name: str, payload: bytes = b"layer") -> tuple[bytes, str]:
    config = push_blob(reg, name, b'{"os":"linux","architecture":"amd64"}')
    layer = push_blob(reg, name, payload)
    doc = {"schemaVersion": 2, "mediaType": manifests.OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 37},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                       "size": len(payload)}]}
    data = json.dumps(doc).encode()
    return data, digest(data)


def put_manifest(reg, name, reference, data, content_type=manifests.OCI_MANIFEST):
    return reg.client.put(f"/v2/{name}/manifests/{reference}", content=data,
                          headers={"Content-Type": content_type})


def test_version_check(reg):
    r = reg.client.get("/v2/")
    assert (r.status_code, r.content) == (200, b"{}")
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert reg.client.get("/v2/nope/nope").status_code == 404


def test_monolithic_upload_and_blob_reads(reg):
    data = bytes(range(256)) * 10
    d = digest(data)
    r = reg.client.post("/v2/team/app/blobs/uploads/", params={"digest": d}, content=data)
    assert r.status_code == 201
    assert r.headers["Location"] == f"{reg.base}/v2/team/app/blobs/{d}"
    assert r.headers["Docker-Content-Digest"] == d
    head = reg.client.head(f"/v2/team/app/blobs/{d}")
    assert (head.status_code, head.headers["Content-Length"], head.headers["Docker-Content-Digest"]) == \
        (200, str(len(data)), d)
    assert head.headers["ETag"] == f'"{d}"' and head.headers["Accept-Ranges"] == "bytes"
    assert reg.client.get(f"/v2/team/app/blobs/{d}").content == data
    part = reg.client.get(f"/v2/team/app/blobs/{d}", headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content, part.headers["Content-Range"]) == (206, data[10:20], "bytes 10-19/2560")
    assert reg.client.get(f"/v2/team/app/blobs/{d}", headers={"Range": "bytes=-5"}).content == data[-5:]
    assert reg.client.get(f"/v2/team/app/blobs/{d}", headers={"Range": "bytes=2550-"}).content == data[2550:]
    bad = reg.client.get(f"/v2/team/app/blobs/{d}", headers={"Range": "bytes=5000-"})
    assert (bad.status_code, bad.headers["Content-Range"]) == (416, "bytes */2560")
    assert reg.client.get(f"/v2/team/app/blobs/{d}", headers={"If-None-Match": f'"{d}"'}).status_code == 304
    # another repository does not see it until mounted
    missing = reg.client.get(f"/v2/other/blobs/{d}")
    assert (missing.status_code, errors(missing)) == (404, [("BLOB_UNKNOWN", d)])


def test_chunked_upload(reg):
    data = b"0123456789" * 1000
    d = digest(data)
    r = reg.client.post("/v2/app/blobs/uploads/")
    assert r.status_code == 202
    upload = r.headers["Docker-Upload-UUID"]
    location = r.headers["Location"]
    assert location == f"{reg.base}/v2/app/blobs/uploads/{upload}"
    assert (r.headers["Range"], r.headers["Content-Length"]) == ("0-0", "0")
    r = reg.client.patch(location, content=data[:4000], headers={"Content-Range": "0-3999"})
    assert (r.status_code, r.headers["Range"]) == (202, "0-3999")
    # out of order: refused with where the upload stands
    r = reg.client.patch(location, content=data[5000:6000], headers={"Content-Range": "5000-5999"})
    assert (r.status_code, errors(r)[0][0], r.headers["Range"]) == (416, "RANGE_INVALID", "0-3999")
    r = reg.client.patch(location, content=data[4000:5000], headers={"Content-Range": "4000-4998"})
    assert (r.status_code, errors(r)[0][0]) == (400, "SIZE_INVALID")
    r = reg.client.patch(location, content=data[4000:9000])  # no Content-Range: appended (streamed)
    assert r.headers["Range"] == "0-8999"
    status = reg.client.get(location)
    assert (status.status_code, status.headers["Range"], status.headers["Docker-Upload-UUID"]) == \
        (204, "0-8999", upload)
    r = reg.client.put(location, params={"digest": d}, content=data[9000:])
    assert (r.status_code, r.headers["Docker-Content-Digest"]) == (201, d)
    assert reg.client.get(f"/v2/app/blobs/{d}").content == data
    gone = reg.client.get(location)
    assert (gone.status_code, errors(gone)) == (404, [("BLOB_UPLOAD_UNKNOWN", "-")])


def test_a_wrong_digest_cancels_the_upload(reg):
    location = reg.client.post("/v2/app/blobs/uploads/").headers["Location"]
    reg.client.patch(location, content=b"abc")
    r = reg.client.put(location, params={"digest": digest(b"abd")})
    assert (r.status_code, errors(r)[0][0]) == (400, "DIGEST_INVALID")
    assert reg.client.get(location).status_code == 404
    r = reg.client.put(reg.client.post("/v2/app/blobs/uploads/").headers["Location"])
    assert errors(r) == [("DIGEST_INVALID", "digest missing")]
    r = reg.client.post("/v2/app/blobs/uploads/", params={"digest": "sha256:nothex"}, content=b"x")
    assert errors(r)[0][0] == "DIGEST_INVALID"


def test_the_hash_is_recomputed_when_its_state_is_lost(reg):
    location = reg.client.post("/v2/app/blobs/uploads/").headers["Location"]
    reg.client.patch(location, content=b"abc")
    reg.store._hashes.clear()  # as after a restart
    reg.client.patch(location, content=b"def")
    assert reg.client.put(location, params={"digest": digest(b"abcdef")}).status_code == 201


def test_cancel_upload(reg):
    location = reg.client.post("/v2/app/blobs/uploads/").headers["Location"]
    assert reg.client.delete(location).status_code == 204
    assert reg.client.delete(location).status_code == 404
    assert errors(reg.client.patch(f"{reg.base}/v2/app/blobs/uploads/no-such-upload", content=b"x")) == \
        [("BLOB_UPLOAD_UNKNOWN", "-")]


def test_cross_repository_mount(reg):
    d = push_blob(reg, "source", b"shared layer")
    r = reg.client.post("/v2/dest/blobs/uploads/", params={"mount": d, "from": "source"})
    assert (r.status_code, r.headers["Location"], r.headers["Docker-Content-Digest"]) == \
        (201, f"{reg.base}/v2/dest/blobs/{d}", d)
    assert reg.client.get(f"/v2/dest/blobs/{d}").content == b"shared layer"
    # a source without it: an ordinary upload session instead
    r = reg.client.post("/v2/dest2/blobs/uploads/", params={"mount": d, "from": "nowhere"})
    assert r.status_code == 202 and r.headers["Docker-Upload-UUID"]


def test_manifest_put_get_head_and_references(reg):
    data, md = image(reg, "team/app")
    r = put_manifest(reg, "team/app", "1.0", data)
    assert (r.status_code, r.headers["Docker-Content-Digest"], r.headers["Location"]) == \
        (201, md, f"{reg.base}/v2/team/app/manifests/{md}")
    for reference in ("1.0", md):
        got = reg.client.get(f"/v2/team/app/manifests/{reference}")
        assert (got.content, got.headers["Content-Type"], got.headers["Docker-Content-Digest"]) == \
            (data, manifests.OCI_MANIFEST, md)
        head = reg.client.head(f"/v2/team/app/manifests/{reference}")
        assert (head.status_code, head.headers["Content-Length"], head.content) == (200, str(len(data)), b"")
    unknown = reg.client.get("/v2/team/app/manifests/2.0")
    assert (unknown.status_code, errors(unknown)) == (404, [("MANIFEST_UNKNOWN", {"Tag": "2.0"})])
    other = "sha256:" + "0" * 64
    assert errors(reg.client.get(f"/v2/team/app/manifests/{other}")) == \
        [("MANIFEST_UNKNOWN", {"Name": "team/app", "Revision": other})]


def test_manifest_put_is_verified(reg):
    data, md = image(reg, "app")
    r = put_manifest(reg, "app", "sha256:" + "f" * 64, data)
    assert (r.status_code, errors(r)[0][0]) == (400, "DIGEST_INVALID")
    assert put_manifest(reg, "app", md, data).status_code == 201  # by its own digest
    # the blobs must be this repository's
    r = put_manifest(reg, "elsewhere", "1", data)
    doc = json.loads(data)
    assert (r.status_code, errors(r)) == (400, [("MANIFEST_BLOB_UNKNOWN", doc["config"]["digest"]),
                                                ("MANIFEST_BLOB_UNKNOWN", doc["layers"][0]["digest"])])
    r = put_manifest(reg, "app", "1", data, manifests.OCI_INDEX)
    assert (r.status_code, errors(r)[0][0]) == (400, "MANIFEST_INVALID")
    ambiguous = json.dumps({**doc, "manifests": []}).encode()
    r = put_manifest(reg, "app", "1", ambiguous)
    assert errors(r) == [("MANIFEST_INVALID", "manifest: expected manifest but found index")]
    assert errors(put_manifest(reg, "app", "bad tag!", data))[0][0] == "TAG_INVALID"
    r = put_manifest(reg, "app", "1", b"x" * (manifests.MAX_SIZE + 1))
    assert errors(r)[0][0] == "MANIFEST_INVALID"


def test_index_needs_its_manifests(reg):
    data, md = image(reg, "multi")
    index = json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": [
        {"mediaType": manifests.OCI_MANIFEST, "digest": md, "size": len(data),
         "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    r = put_manifest(reg, "multi", "latest", index, manifests.OCI_INDEX)
    assert errors(r) == [("MANIFEST_BLOB_UNKNOWN", md)]
    assert put_manifest(reg, "multi", md, data).status_code == 201
    assert put_manifest(reg, "multi", "latest", index, manifests.OCI_INDEX).status_code == 201
    assert reg.client.get("/v2/multi/manifests/latest").headers["Content-Type"] == manifests.OCI_INDEX


def test_deletes(reg):
    data, md = image(reg, "app")
    put_manifest(reg, "app", "1", data)
    put_manifest(reg, "app", "2", data)
    put_manifest(reg, "app", "3", data)
    assert reg.client.delete("/v2/app/manifests/3").status_code == 202  # a tag only
    assert reg.client.get("/v2/app/tags/list").json()["tags"] == ["1", "2"]
    assert reg.client.get(f"/v2/app/manifests/{md}").status_code == 200
    assert reg.client.delete(f"/v2/app/manifests/{md}").status_code == 202  # the revision and its tags
    assert reg.client.get("/v2/app/tags/list").json()["tags"] == []
    assert reg.client.get(f"/v2/app/manifests/{md}").status_code == 404
    assert errors(reg.client.delete(f"/v2/app/manifests/{md}")) == [("MANIFEST_UNKNOWN", "-")]
    layer = json.loads(data)["layers"][0]["digest"]
    assert reg.client.delete(f"/v2/app/blobs/{layer}").status_code == 202
    assert reg.client.head(f"/v2/app/blobs/{layer}").status_code == 404


def test_deletes_can_be_disabled():
    reg = Running(delete_enabled=False)
    try:
        d = push_blob(reg, "app", b"x")
        r = reg.client.delete(f"/v2/app/blobs/{d}")
        assert (r.status_code, errors(r)) == (405, [("UNSUPPORTED", "-")])
    finally:
        reg.stop()


def test_tags_list_paginates(reg):
    data, _ = image(reg, "app")
    for tag in ("c", "a", "e", "b", "d"):
        put_manifest(reg, "app", tag, data)
    r = reg.client.get("/v2/app/tags/list")
    assert r.json() == {"name": "app", "tags": ["a", "b", "c", "d", "e"]} and "Link" not in r.headers
    r = reg.client.get("/v2/app/tags/list", params={"n": 2})
    assert r.json()["tags"] == ["a", "b"]
    assert r.headers["Link"] == '</v2/app/tags/list?last=b&n=2>; rel="next"'
    r = reg.client.get("/v2/app/tags/list", params={"n": 2, "last": "d"})
    assert r.json()["tags"] == ["e"] and "Link" not in r.headers
    unknown = reg.client.get("/v2/nothing/tags/list")
    assert (unknown.status_code, errors(unknown)) == (404, [("NAME_UNKNOWN", {"name": "nothing"})])
    assert errors(reg.client.get("/v2/app/tags/list", params={"n": "-1"}))[0][0] == "PAGINATION_NUMBER_INVALID"


def test_catalog_paginates_and_search_finds(reg):
    for name in ("b/two", "a/one", "c", "a/three"):
        push_blob(reg, name, name.encode())
    assert reg.client.get("/v2/_catalog").json() == {"repositories": ["a/one", "a/three", "b/two", "c"]}
    r = reg.client.get("/v2/_catalog", params={"n": 3})
    assert r.json()["repositories"] == ["a/one", "a/three", "b/two"]
    assert r.headers["Link"] == '</v2/_catalog?last=b%2Ftwo&n=3>; rel="next"'
    assert reg.client.get("/v2/_catalog", params={"n": 3, "last": "b/two"}).json() == {"repositories": ["c"]}
    r = reg.client.get("/v1/search", params={"q": "a/", "n": 1})
    body = r.json()
    assert (body["num_results"], body["query"], body["num_pages"]) == (2, "a/", 2)
    assert body["results"] == [{"name": "a/one", "description": "", "star_count": 0, "is_official": False,
                                "is_automated": False}]
    assert reg.client.get("/v1/search", params={"q": "a/", "n": 1, "page": 2}).json()["results"][0]["name"] == "a/three"


def test_invalid_names(reg):
    r = reg.client.get("/v2/UPPER/tags/list")  # distribution's routes do not match it
    assert (r.status_code, r.content) == (404, b"404 page not found\n")
    r = reg.client.get("/v2/" + "a" * 256 + "/tags/list")  # the grammar's, but too long
    assert (r.status_code, errors(r)) == (400, [("NAME_INVALID", "a" * 256)])


def test_relative_urls():
    reg = Running(relative_urls=True)
    try:
        r = reg.client.post("/v2/app/blobs/uploads/")
        assert r.headers["Location"].startswith("/v2/app/blobs/uploads/")
    finally:
        reg.stop()


def test_gc_sweeps_what_no_manifest_references(reg):
    data, md = image(reg, "app")
    put_manifest(reg, "app", "1", data)
    orphan = push_blob(reg, "app", b"orphan")
    out = io.StringIO()
    assert [str(d) for d in gc.collect(reg.store, out, dry_run=True)] == [orphan]
    assert "blob eligible for deletion: " + orphan in out.getvalue()
    assert reg.client.head(f"/v2/app/blobs/{orphan}").status_code == 200  # dry run: still there
    gc.collect(reg.store, io.StringIO())
    assert reg.client.head(f"/v2/app/blobs/{orphan}").status_code == 404
    assert reg.client.get("/v2/app/manifests/1").content == data
    for blob in json.loads(data)["layers"] + [json.loads(data)["config"]]:
        assert reg.client.head(f"/v2/app/blobs/{blob['digest']}").status_code == 200
    # untagged manifests stay unless asked
    reg.client.delete("/v2/app/manifests/1")
    assert gc.collect(reg.store, io.StringIO()) == []
    swept = gc.collect(reg.store, io.StringIO(), delete_untagged=True)
    assert len(swept) == 3 and reg.client.get(f"/v2/app/manifests/{md}").status_code == 404


def test_gc_purges_abandoned_uploads(reg):
    push_blob(reg, "app", b"x")
    fresh = reg.client.post("/v2/app/blobs/uploads/").headers["Docker-Upload-UUID"]
    old = reg.client.post("/v2/app/blobs/uploads/").headers["Docker-Upload-UUID"]
    reg.store.driver.put_content(f"docker/registry/v2/repositories/app/_uploads/{old}/startedat",
                                 b"2026-01-01T00:00:00Z")
    out = io.StringIO()
    gc.collect(reg.store, out, dry_run=True)
    assert f"upload eligible for deletion: app/{old}" in out.getvalue()
    assert reg.client.get(f"/v2/app/blobs/uploads/{old}").status_code == 204
    gc.collect(reg.store, io.StringIO())
    assert reg.client.get(f"/v2/app/blobs/uploads/{old}").status_code == 404
    assert reg.client.get(f"/v2/app/blobs/uploads/{fresh}").status_code == 204
