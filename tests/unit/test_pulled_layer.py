"""image/pulled: a registry blob unpacked and stored as pulled, in one pass, both digests checked."""

import gzip
import hashlib
import io
import os
import tarfile

import pytest
import zstandard

from ketch.image import pulled
from ketch.image.content import ContentStore


def layer_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = os.urandom(300_000)
        info = tarfile.TarInfo("dir/file")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("compress", [
    lambda b: gzip.compress(b, mtime=0),
    lambda b: gzip.compress(b[:5000], mtime=0) + gzip.compress(b[5000:], mtime=0),  # pigz-style members
    lambda b: zstandard.ZstdCompressor().compress(b),
    lambda b: b,
], ids=["gzip", "gzip-members", "zstd", "tar"])
def test_ingest_keeps_the_blob_as_pulled(tmp_path, compress):
    tar = layer_tar()
    blob = compress(tar)
    content = ContentStore(str(tmp_path / "content"))
    info = pulled.ingest(pulled.ChunkReader([blob[:1000], blob[1000:]]), content,
                         str(tmp_path / "layer"), sha(blob), sha(tar))
    assert info == pulled.PulledLayer(sha(blob), sha(tar), len(blob), 300_000)
    assert content.read(sha(blob)) == blob  # byte for byte: the manifest's digest stays
    assert os.path.getsize(tmp_path / "layer" / "dir" / "file") == 300_000


def test_a_wrong_digest_or_diff_id_stores_nothing(tmp_path):
    tar = layer_tar()
    blob = gzip.compress(tar)
    content = ContentStore(str(tmp_path / "content"))
    with pytest.raises(pulled.DigestMismatch, match="filesystem layer verification failed"):
        pulled.ingest(io.BytesIO(blob), content, str(tmp_path / "a"), sha(b"other"), sha(tar))
    with pytest.raises(pulled.DigestMismatch, match="has diff_id"):
        pulled.ingest(io.BytesIO(blob), content, str(tmp_path / "b"), sha(blob), sha(b"other"))
    assert os.listdir(tmp_path / "content" / "blobs" / "sha256") == []
    assert os.listdir(tmp_path / "content" / "ingest") == []


def test_a_stream_that_verifies_itself_is_not_hashed_twice(tmp_path):
    """The registry client's blob stream raises at its end when the digest is wrong: then
    nothing is kept; when it does not raise, the blob goes in under the descriptor's digest."""
    tar = layer_tar()
    blob = gzip.compress(tar)
    content = ContentStore(str(tmp_path / "content"))

    def failing():
        yield blob
        raise pulled.DigestMismatch("filesystem layer verification failed for digest x")
    with pytest.raises(pulled.DigestMismatch):
        pulled.ingest(pulled.ChunkReader(failing()), content, str(tmp_path / "a"), sha(blob),
                      sha(tar), verifies_itself=True)
    assert os.listdir(tmp_path / "content" / "blobs" / "sha256") == []
    assert os.listdir(tmp_path / "content" / "ingest") == []
    info = pulled.ingest(pulled.ChunkReader([blob]), content, str(tmp_path / "b"), sha(blob),
                         sha(tar), verifies_itself=True)
    assert content.read(info.digest) == blob


def test_a_corrupt_blob_is_a_verification_failure_whatever_the_decompressor_says(tmp_path):
    tar = layer_tar()
    blob = gzip.compress(tar)
    bad = blob[:1000] + bytes(64) + blob[1064:]
    content = ContentStore(str(tmp_path / "content"))
    with pytest.raises(pulled.DigestMismatch, match="^filesystem layer verification failed for digest"):
        pulled.ingest(io.BytesIO(bad), content, str(tmp_path / "a"), sha(blob), sha(tar))


def test_a_highly_compressed_layer_is_inflated_in_bounded_pieces(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 64 << 20
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    tar_bytes = buf.getvalue()
    blob = gzip.compress(tar_bytes)  # ~64 KiB for 64 MiB
    content = ContentStore(str(tmp_path / "content"))
    sizes = []
    original = pulled._Inflater.feed

    def spy(self, data):
        out = list(original(self, data))
        sizes.extend(len(o) for o in out)
        return out
    pulled._Inflater.feed = spy
    try:
        info = pulled.ingest(io.BytesIO(blob), content, str(tmp_path / "a"), sha(blob), sha(tar_bytes))
    finally:
        pulled._Inflater.feed = original
    assert info.size == 64 << 20
    assert max(sizes) <= pulled.MAX_PIECE


def test_nothing_is_unpacked_before_both_digests_are_checked(tmp_path):
    """moby verifies a layer before it registers it: a blob whose diff_id is not the
    config's leaves no file in the layer directory (it used to be unpacked first)."""
    tar = layer_tar()
    blob = gzip.compress(tar)
    content = ContentStore(str(tmp_path / "content"))
    dest = tmp_path / "layer"
    with pytest.raises(pulled.DigestMismatch, match="has diff_id"):
        pulled.ingest(io.BytesIO(blob), content, str(dest), sha(blob), sha(b"other"))
    assert not dest.exists() or list(dest.iterdir()) == []
    with pytest.raises(pulled.DigestMismatch, match="verification failed"):
        pulled.ingest(io.BytesIO(blob), content, str(dest), sha(b"other"), sha(tar))
    assert not dest.exists() or list(dest.iterdir()) == []


def test_the_blob_is_inflated_beside_its_download(tmp_path):
    """Inflation and the diff_id's hash run in a thread of their own, fed while the blob
    still arrives: a layer's download and its inflation use two cores."""
    import threading
    tar = layer_tar()
    blob = gzip.compress(tar)
    content = ContentStore(str(tmp_path / "content"))
    threads = set()
    original = pulled._Inflater.feed

    def spy(self, data):
        threads.add(threading.get_ident())
        yield from original(self, data)
    pulled._Inflater.feed = spy
    try:
        pulled.ingest(io.BytesIO(blob), content, str(tmp_path / "a"), sha(blob), sha(tar))
    finally:
        pulled._Inflater.feed = original
    assert threads and threading.get_ident() not in threads


def test_a_corrupt_stream_with_the_right_digest_is_a_register_failure(tmp_path):
    blob = b"\x1f\x8b" + os.urandom(5000)  # a gzip magic, then garbage
    content = ContentStore(str(tmp_path / "content"))
    with pytest.raises(pulled.InvalidArgument, match="^failed to register layer"):
        pulled.ingest(io.BytesIO(blob), content, str(tmp_path / "a"), sha(blob), sha(b"x"))
    assert os.listdir(tmp_path / "content" / "ingest") == []


def test_without_o_tmpfile_the_spool_is_a_file_unlinked_at_once(tmp_path, monkeypatch):
    tar = layer_tar()
    blob = gzip.compress(tar)
    content = ContentStore(str(tmp_path / "content"))
    real_open = os.open

    def no_tmpfile(path, flags, *args, **kwargs):
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(95, "Operation not supported")
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(pulled.os, "open", no_tmpfile)
    info = pulled.ingest(io.BytesIO(blob), content, str(tmp_path / "a"), sha(blob), sha(tar))
    assert info.size == 300_000
    assert os.listdir(tmp_path / "content" / "ingest") == []


@pytest.mark.parametrize("compress", [lambda b: gzip.compress(b, mtime=0), lambda b: b], ids=["gzip", "tar"])
def test_a_stored_blob_unpacks_only_with_its_diff_id(tmp_path, compress):
    """A commit's layer, stored before it is unpacked: ImageService.ensure_unpacked makes
    its files from the blob, its tar checked against the config's diff_id first."""
    tar = layer_tar()
    content = ContentStore(str(tmp_path / "content"))
    digest = content.put(compress(tar))
    dest = tmp_path / "layer"
    assert pulled.unpack_stored(content, digest, sha(tar), str(dest)) == 300_000
    assert (dest / "dir" / "file").stat().st_size == 300_000
    with pytest.raises(pulled.DigestMismatch, match="diff_id"):
        pulled.unpack_stored(content, digest, sha(b"other"), str(tmp_path / "other"))
    assert not (tmp_path / "other" / "dir").exists()
