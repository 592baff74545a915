"""The registry client library against Debian's docker-registry (distribution 2.8):
anonymous, htpasswd Basic auth, TLS with a test CA (and client certificates), Bearer
tokens from a test token server, mirrors, and a proxy that drops a blob download midway.
Only loopback traffic; no ketchd."""

import json
import os
import socket
import threading

import pytest

from ketch.errors import NotFound, PermissionDenied
from ketch.oci import reference
from ketch.oci.platform import Platform
from ketch.registry.client import apierror, platforms, remote
from ketch.registry.client.auth import AuthConfig
from ketch.registry.client.endpoints import RegistryOptions
from ketch.registry.client.login import login
from ketch.registry.client.manifest import ImageIndex
from ketch.registry.client.transport import Retry, Session
from tests.integration.registries import CA, DockerRegistry, ImageBlobs, TokenServer, sha256

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def registry():
    with DockerRegistry() as reg:
        yield reg


@pytest.fixture
def session():
    with Session(retry=Retry(attempts=2, delay=0.05)) as s:
        yield s


def push_image(repo: remote.Repository, image: ImageBlobs, tag: str, chunk_size: int | None = None) -> str:
    for blob in image.blobs:
        if repo.blob_exists(sha256(blob)) is None:
            repo.upload_blob(sha256(blob), len(blob), blob, chunk_size=chunk_size)
    return repo.put_manifest(tag, image.manifest, image.media_type)


def pull_image(repo: remote.Repository, tag: str) -> tuple[bytes, list[bytes]]:
    desc = repo.resolve(tag)
    fetched = repo.get_manifest(desc.digest, desc)
    config = repo.fetch_blob(fetched.document.config)
    layers = [repo.open_blob(layer).read() for layer in fetched.document.layers]
    return config, layers


def test_push_then_pull_verifies_every_blob(registry, session):
    image = ImageBlobs.random(3, 20000)
    ref = reference.parse(f"{registry.host}/team/app:1.0")
    repo = remote.open_repository(session, ref, push=True)
    assert repo.registry.endpoint.url == f"http://{registry.host}"  # loopback: https, then http
    assert push_image(repo, image, "1.0") == image.digest
    config, layers = pull_image(remote.open_repository(session, ref), "1.0")
    assert config == image.config and layers == image.layers
    assert repo.blob_exists(sha256(image.layers[0])) == len(image.layers[0])


def test_chunked_upload_and_progress(registry, session):
    image = ImageBlobs.random(1, 300000)
    repo = remote.open_repository(session, reference.parse(f"{registry.host}/chunked/app:c"), push=True)
    seen = []
    layer = image.layers[0]
    repo.upload_blob(sha256(layer), len(layer), iter([layer[:1000], layer[1000:]]), chunk_size=65536,
                     on_progress=seen.append)
    assert seen[-1] == len(layer) and len(seen) == -(-len(layer) // 65536)
    assert repo.blob_exists(sha256(layer)) == len(layer)


def test_upload_of_wrong_bytes_is_refused_by_the_registry(registry, session):
    repo = remote.open_repository(session, reference.parse(f"{registry.host}/bad/app:x"), push=True)
    with pytest.raises(apierror.RegistryInvalid, match="digest invalid"):
        repo.upload_blob(sha256(b"other"), 5, b"hello")


def test_cross_repository_mount(registry, session):
    image = ImageBlobs.random(1)
    source = remote.open_repository(session, reference.parse(f"{registry.host}/src/app:1"), push=True)
    push_image(source, image, "1")
    target = remote.open_repository(session, reference.parse(f"{registry.host}/dst/app:1"), push=True)
    assert target.blob_exists(sha256(image.layers[0])) is None
    assert target.mount_blob(sha256(image.layers[0]), "src/app").mounted
    assert target.blob_exists(sha256(image.layers[0])) == len(image.layers[0])
    # a blob nobody has: the registry opens an upload instead, which upload_blob can use
    missing = b"not mounted anywhere"
    result = target.mount_blob(sha256(missing), "src/app")
    assert not result.mounted and result.upload_url
    target.upload_blob(sha256(missing), len(missing), missing, upload_url=result.upload_url)
    assert target.blob_exists(sha256(missing)) == len(missing)


def test_unknown_tag_and_repository_words(registry, session):
    repo = remote.open_repository(session, reference.parse(f"{registry.host}/team/app:nope"))
    with pytest.raises(NotFound, match="^manifest unknown: manifest unknown$") as err:
        repo.resolve("nope")
    assert str(apierror.translate_pull_error(err.value, "x", f"{registry.host}/team/app:nope")) == \
        f"manifest for {registry.host}/team/app:nope not found: manifest unknown: manifest unknown"
    with pytest.raises(NotFound, match="^manifest unknown: manifest unknown$"):
        repo.get_manifest("nope")


def test_digest_pull_and_tag_pagination(registry, session):
    image = ImageBlobs.random(1)
    repo = remote.open_repository(session, reference.parse(f"{registry.host}/paged/app:t0"), push=True)
    tags = [f"t{i}" for i in range(5)]
    for tag in tags:
        push_image(repo, image, tag)
    # distribution 2.8 ignores n/last (pages are tested against a fake registry in
    # tests/unit/test_registry_remote.py) and lists tags in its own order
    assert sorted(repo.list_tags(page_size=2)) == tags
    fetched = repo.get_manifest(image.digest)
    assert fetched.digest == image.digest and fetched.raw == image.manifest


def test_index_platform_selection(registry, session):
    repo = remote.open_repository(session, reference.parse(f"{registry.host}/multi/app:latest"), push=True)
    amd = ImageBlobs.random(1, architecture="amd64", media_type="application/vnd.oci.image.manifest.v1+json")
    arm = ImageBlobs.random(1, architecture="arm", variant="v6", media_type="application/vnd.oci.image.manifest.v1+json")
    entries = []
    for image in (amd, arm):
        digest = push_image(repo, image, image.digest)
        entries.append({"mediaType": image.media_type, "digest": digest, "size": len(image.manifest),
                        "platform": {"os": "linux", "architecture": image.architecture,
                                     **({"variant": image.variant} if image.variant else {})}})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": entries}).encode()
    repo.put_manifest("latest", index, "application/vnd.oci.image.index.v1+json")
    fetched = repo.get_manifest("latest")
    assert isinstance(fetched.document, ImageIndex)
    # arm/v7 runs arm/v6 images
    chosen = platforms.select(fetched.document, Platform("linux", "arm", "v7"))
    assert chosen.digest == arm.digest
    assert repo.get_manifest(chosen.digest, chosen).raw == arm.manifest
    with pytest.raises(NotFound, match="^no matching manifest for linux/s390x in the manifest list entries$"):
        platforms.select(fetched.document, Platform("linux", "s390x"))


def test_unreachable_registry_is_named(session):
    port = _closed_port()
    ref = reference.parse(f"127.0.0.1:{port}/x/y:1")
    with pytest.raises(apierror.ConnectionFailed) as err:
        remote.open_repository(session, ref)
    assert str(err.value) == f'Get "http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}: connect: connection refused'


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mirror_serves_docker_io_pulls(registry):
    image = ImageBlobs.random(1)
    with Session() as s:
        seed = remote.open_repository(s, reference.parse(f"{registry.host}/library/mirrored:1"), push=True)
        push_image(seed, image, "1")
    options = RegistryOptions(mirrors=(f"http://{registry.host}",))
    with Session(options) as s:
        repo = remote.open_repository(s, reference.parse("mirrored:1"))
        assert repo.registry.endpoint.mirror and repo.name == "library/mirrored"
        assert pull_image(repo, "1")[1] == image.layers


# -- Basic auth ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def basic_registry():
    with DockerRegistry(htpasswd={"alice": "s3cret"}) as reg:
        yield reg


def test_basic_auth(basic_registry, session):
    ref = reference.parse(f"{basic_registry.host}/team/app:1")
    repo = remote.open_repository(session, ref, AuthConfig("alice", "s3cret"), push=True)
    image = ImageBlobs.random(1)
    push_image(repo, image, "1")
    anonymous = remote.open_repository(session, ref)
    with pytest.raises(PermissionDenied) as err:
        anonymous.resolve("1")
    assert str(err.value) == f'Head "http://{basic_registry.host}/v2/team/app/manifests/1": no basic auth credentials'
    wrong = remote.open_repository(session, ref, AuthConfig("alice", "wrong"))
    with pytest.raises(PermissionDenied, match="^unauthorized: authentication required$"):
        wrong.resolve("1")


def test_basic_login(basic_registry, session):
    ok = login(session, AuthConfig("alice", "s3cret", serveraddress=basic_registry.host))
    assert ok.status == "Login Succeeded" and ok.identity_token == ""
    with pytest.raises(PermissionDenied) as err:
        login(session, AuthConfig("alice", "nope", serveraddress=basic_registry.host))
    assert str(err.value) == f"login attempt to http://{basic_registry.host}/v2/ failed with status: 401 Unauthorized"


# -- TLS ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory):
    ca = CA.create(str(tmp_path_factory.mktemp("ca")))
    with DockerRegistry(tls=ca) as reg:
        yield reg, ca


def _verifying(certs_dir: str) -> RegistryOptions:
    # loopback is insecure by default, as in Docker; verification needs that lifted
    return RegistryOptions(certs_dir=certs_dir, default_insecure_cidrs=())


def test_tls_loopback_is_insecure_by_default(tls_registry, session):
    reg, _ = tls_registry
    repo = remote.open_repository(session, reference.parse(f"{reg.host}/tls/app:1"), push=True)
    assert repo.registry.endpoint.url == f"https://{reg.host}" and not repo.registry.endpoint.verify
    push_image(repo, ImageBlobs.random(1), "1")


def test_tls_with_a_ca_in_certs_d(tls_registry, tmp_path):
    reg, ca = tls_registry
    ref = reference.parse(f"{reg.host}/tls/app:1")
    with Session(_verifying(str(tmp_path)), retry=Retry(1)) as s:
        with pytest.raises(apierror.ConnectionFailed) as err:
            remote.open_repository(s, ref)
    assert str(err.value) == (f'Get "https://{reg.host}/v2/": tls: failed to verify certificate: '
                              "x509: certificate signed by unknown authority")
    (tmp_path / reg.host).mkdir()
    (tmp_path / reg.host / "ca.crt").write_bytes(open(ca.cert, "rb").read())
    with Session(_verifying(str(tmp_path))) as s:
        repo = remote.open_repository(s, ref, push=True)
        assert repo.registry.endpoint.verify
        image = ImageBlobs.random(1)
        push_image(repo, image, "1")
        assert pull_image(repo, "1")[1] == image.layers


def test_tls_client_certificate_from_certs_d(tmp_path):
    ca = CA.create(str(tmp_path / "ca"))
    with DockerRegistry(tls=ca, client_ca=ca) as reg:
        hostdir = tmp_path / "certs.d" / reg.host
        hostdir.mkdir(parents=True)
        (hostdir / "ca.crt").write_bytes(open(ca.cert, "rb").read())
        ref = reference.parse(f"{reg.host}/mtls/app:1")
        with Session(_verifying(str(tmp_path / "certs.d")), retry=Retry(1)) as s:
            with pytest.raises(apierror.ConnectionFailed) as err:
                remote.open_repository(s, ref)
        # Go's words for the server's alert (TLS 1.3 may name it "certificate required")
        assert str(err.value) in (f'Get "https://{reg.host}/v2/": remote error: tls: bad certificate',
                                  f'Get "https://{reg.host}/v2/": remote error: tls: certificate required')
        cert, key = ca.issue("client", client=True)
        os.rename(cert, hostdir / "client.cert")
        os.rename(key, hostdir / "client.key")
        with Session(_verifying(str(tmp_path / "certs.d"))) as s:
            repo = remote.open_repository(s, ref, push=True)
            push_image(repo, ImageBlobs.random(1), "1")
            assert repo.list_tags() == ["1"]


# -- Bearer tokens ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def token_registry():
    with TokenServer({"alice": "s3cret"}) as tokens, DockerRegistry(token=tokens) as reg:
        yield reg, tokens


def test_bearer_push_pull_and_token_reuse(token_registry, session):
    reg, tokens = token_registry
    ref = reference.parse(f"{reg.host}/public/app:1")
    repo = remote.open_repository(session, ref, AuthConfig("alice", "s3cret"), push=True)
    image = ImageBlobs.random(2)
    before = len(tokens.requests)
    push_image(repo, image, "1")
    asked = tokens.requests[before:]
    # one token for repository:public/app:pull,push, reused for every request of the push
    assert [(r.method, r.user, r.scopes) for r in asked] == [("GET", "alice", ["repository:public/app:pull,push"])]
    assert asked[0].params["account"] == "alice" and asked[0].params["service"] == tokens.service
    anonymous = remote.open_repository(session, ref)
    assert pull_image(anonymous, "1")[1] == image.layers
    assert tokens.requests[-1].user == "" and tokens.requests[-1].scopes == ["repository:public/app:pull"]


def test_bearer_refusals_use_the_servers_words(token_registry, session):
    reg, tokens = token_registry
    private = reference.parse(f"{reg.host}/private/app:1")
    anonymous = remote.open_repository(session, private)
    with pytest.raises(apierror.RegistryDenied) as err:
        anonymous.resolve("1")
    # distribution: the RFC 6750 error of the challenge first, then the body's
    assert err.value.codes == ("DENIED", "UNAUTHORIZED")
    assert str(apierror.translate_pull_error(err.value, "private/app", "private/app:1")) == (
        "pull access denied for private/app, repository does not exist or may require "
        "'docker login': denied: requested access to the resource is denied")
    wrong = remote.open_repository(session, private, AuthConfig("alice", "wrong"))
    with pytest.raises(PermissionDenied) as err:
        wrong.resolve("1")
    assert str(err.value) == (f'Head "http://{reg.host}/v2/private/app/manifests/1": '
                              "unauthorized: incorrect username or password")


def test_bearer_login_returns_an_identity_token_that_works(token_registry, session):
    reg, tokens = token_registry
    result = login(session, AuthConfig("alice", "s3cret", serveraddress=f"http://{reg.host}"))
    assert result.status == "Login Succeeded" and result.identity_token
    assert tokens.requests[-1].params.get("offline_token") == "true"
    assert tokens.requests[-1].params.get("client_id") == "docker"
    repo = remote.open_repository(session, reference.parse(f"{reg.host}/private/idt:1"),
                                  AuthConfig(identitytoken=result.identity_token), push=True)
    push_image(repo, ImageBlobs.random(1), "1")
    post = tokens.requests[-1]
    assert post.method == "POST" and post.user == "alice"
    assert post.params["grant_type"] == "refresh_token" and post.scopes == ["repository:private/idt:pull,push"]
    with pytest.raises(PermissionDenied) as err:
        login(session, AuthConfig("alice", "bad", serveraddress=reg.host))
    assert str(err.value) == f'Get "http://{reg.host}/v2/": unauthorized: incorrect username or password'


# -- a dropped connection ----------------------------------------------------------------------
class CuttingProxy:
    """TCP proxy to ``upstream`` that closes the first blob GET's response after
    ``cut_after`` bytes of it."""

    def __init__(self, upstream_port: int, cut_after: int) -> None:
        self.upstream_port, self.cut_after = upstream_port, cut_after
        self.cuts = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            state = {"armed": False, "sent": 0}
            threading.Thread(target=self._up, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client, state), daemon=True).start()

    def _up(self, src, dst, state) -> None:
        try:
            while data := src.recv(65536):
                if b"GET /v2/" in data and b"/blobs/sha256:" in data and b"Range:" not in data \
                        and self.cuts == 0:
                    state["armed"] = True
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(dst)

    def _down(self, src, dst, state) -> None:
        try:
            while data := src.recv(65536):
                if state["armed"]:
                    room = self.cut_after - state["sent"]
                    if len(data) >= room:
                        dst.sendall(data[:room])
                        self.cuts += 1
                        break
                    state["sent"] += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(dst)
            _close(src)

    def close(self) -> None:
        self._stop = True
        self.listener.close()


def _close(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def test_dropped_blob_download_resumes_with_range(registry, session):
    image = ImageBlobs.random(1, 400000)
    repo = remote.open_repository(session, reference.parse(f"{registry.host}/resume/app:1"), push=True)
    push_image(repo, image, "1")
    proxy = CuttingProxy(registry.port, cut_after=100000)
    try:
        via = remote.open_repository(session, reference.parse(f"127.0.0.1:{proxy.port}/resume/app:1"))
        fetched = via.get_manifest("1")
        stream = via.open_blob(fetched.document.layers[0])
        assert stream.read() == image.layers[0]
        assert proxy.cuts == 1 and stream.resumes == 1
    finally:
        proxy.close()
