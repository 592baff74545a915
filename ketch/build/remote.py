"""What a build fetches from the network: ``ADD <url>`` sources and ``POST /build?remote=``
contexts (a git repository, a tarball or a plain Dockerfile), as moby's classic builder
(``builder/dockerfile/copy.go`` downloadSource, ``builder/remotecontext`` detect, remote,
git/gitutils).

API (blocking: the builder's file work runs in a thread; from asyncio use
``asyncio.to_thread``; ``workdir`` is a private directory of the caller's, which removes it
after)::

    is_url(s) / is_git_url(s)                    moby's urlutil rules (``archive.urlkind``)
    download(url, workdir, dest, checksum="", progress=None) -> Download
        GET (redirects followed); the file lands in a fresh directory under workdir, mode
        0600, mtime from Last-Modified (else the epoch); its name from the URL's path, else
        Content-Disposition, else none ("__unnamed__": then dest may not end in "/").
        ``Download.source`` is ready for ``copier.copy_sources(Download.open(), [source], ...)``
        (never extracted); ``Download.hash`` is what moby puts in history: ``ADD <hex> in /d``.
        ``checksum`` "sha256:<hex>" (BuildKit's --checksum) is verified. The classic stream
        prints an empty line after the step header for a download (moby's Fprintln).
    fetch_context(remote, workdir, progress=None) -> RemoteContext
        git URL: cloned by ``gitcontext.clone`` ("#ref:subdir" fragments, CVE-2019-13139's
        guards); an http(s) URL: a tar (plain, gzip, bzip2, xz, zstd) extracted safely, or a text/plain Dockerfile (``dockerfile_text``). The
        context is a new directory directly in workdir, and the only thing left there.

Run from ``netpool.run`` (a bounded pool of its own), the work is cancellable: each
connection's socket (and each git process, ``gitcontext``) is registered on the run's
``Cancel``, which shuts the socket down (a blocked read returns) or kills git. A read that
gets no byte for ``TIMEOUT.read`` fails.

Errors are ``ketch.errors`` with moby's texts: "ADD failed: failed to GET <url> with status
404 Not Found: <body>", "error downloading remote context <url>: ...", "remoteURL (x) could
not be recognized as URL", "invalid refspec: -x".
"""

import email.utils
import hashlib
import os
import re
import shutil
import socket
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

from ketch import errors
from ketch.archive.untar import Breakout, untar
from ketch.archive.urlkind import is_git_url, is_url  # also this module's API (dispatch, copyfiles)
from ketch.build import gitcontext, netpool, urlget
from ketch.build.context import Source, resolve_sources
from ketch.image.archive import open_decompressed

UNNAMED = "__unnamed__"
TIMEOUT = httpx.Timeout(None, connect=30.0, read=300.0)
CHUNK = 1 << 20

Progress = Callable[[int, int], None]  # (bytes so far, total or -1)


# -- GET as moby's GetWithStatusError ------------------------------------------------------

class _Fetch:
    """An open GET whose status is below 400; ``chunks()`` streams the body."""

    def __init__(self, client: httpx.Client, response: httpx.Response) -> None:
        self.client, self.response = client, response

    @property
    def length(self) -> int:
        try:
            return int(self.response.headers.get("content-length", "-1"))
        except ValueError:
            return -1

    def chunks(self):
        return self.response.iter_bytes(CHUNK)

    def close(self) -> None:
        self.response.close()
        self.client.close()


class _Stoppable(httpcore.SyncBackend):
    """Connects as httpcore does, each socket registered on the work's ``Cancel``."""

    def __init__(self, cancel: netpool.Cancel) -> None:
        self.cancel = cancel

    def connect_tcp(self, *args, **kwargs):
        stream = super().connect_tcp(*args, **kwargs)
        sock = stream.get_extra_info("socket")
        try:
            self.cancel.register(lambda: sock.shutdown(socket.SHUT_RDWR))
        except errors.KetchError:
            stream.close()
            raise
        return stream


def _client() -> httpx.Client:
    transport = httpx.HTTPTransport(trust_env=False)
    cancel = netpool.current()
    if cancel is not None:
        # httpx takes no network backend; its pool makes each connection with this one
        transport._pool._network_backend = _Stoppable(cancel)
    return urlget.client(TIMEOUT, transport)


def _get(url: str, prefix: str) -> _Fetch:
    return _Fetch(*urlget.get(url, TIMEOUT, prefix, session=_client()))


# -- ADD <url> -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Download:
    directory: str  # holds the one file; under the caller's workdir
    filename: str  # "" when neither the URL nor the server named it
    hash: str  # moby's: hex, no "file:" prefix
    source: Source

    def open(self) -> int:
        """An O_PATH descriptor of ``directory`` for ``copier.copy_sources``; close it."""
        return os.open(self.directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


_CHECKSUM = re.compile(r"(sha256|sha384|sha512):([0-9a-f]+)\Z")
_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


def _parse_checksum(checksum: str) -> tuple[str, str] | None:
    """BuildKit's --checksum, with go-digest's texts for malformed ones."""
    if not checksum:
        return None
    algo, sep, hexpart = checksum.partition(":")
    if not sep or not hexpart:
        raise errors.InvalidArgument("invalid checksum digest format")
    if algo not in _LENGTHS:
        raise errors.InvalidArgument("unsupported digest algorithm")
    if len(hexpart) != _LENGTHS[algo] or not _CHECKSUM.match(checksum):
        raise errors.InvalidArgument("invalid checksum digest length" if len(hexpart) != _LENGTHS[algo]
                                     else "invalid checksum digest format")
    return algo, hexpart


def _filename(url_path: str, disposition: str) -> str:
    """moby's getFilenameForDownload: the URL path's last part, else Content-Disposition's."""
    if url_path and not url_path.endswith("/"):
        name = url_path.rsplit("/", 1)[-1]
        if name not in ("", ".", ".."):
            return name
    if disposition:
        match = re.search(r'filename\*?=(?:"([^"]*)"|([^;\s]*))', disposition)
        if match:
            value = match.group(1) if match.group(1) is not None else match.group(2)
            if value and not value.endswith("/"):
                name = value.rsplit("/", 1)[-1]
                if name not in ("", ".", ".."):
                    return name
    return ""


def download(url: str, workdir: str, dest: str, checksum: str = "",
                   progress: Progress | None = None) -> Download:
    expected = _parse_checksum(checksum)
    fetch = _get(url, "ADD failed: ")
    directory = tempfile.mkdtemp(prefix="docker-remote", dir=workdir)
    try:
        try:
            filename = _filename(unquote(urlsplit(url).path), fetch.response.headers.get("content-disposition", ""))
            name = filename or UNNAMED
            digest = hashlib.new(expected[0]) if expected else None
            fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
            try:
                done = 0
                for chunk in fetch.chunks():
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
                    if digest is not None:
                        digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, fetch.length)
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
            mtime = _last_modified(fetch.response.headers.get("last-modified", ""))
        except httpx.HTTPError as exc:
            raise errors.Internal(f"ADD failed: {exc}") from None
        finally:
            fetch.close()
        if digest is not None and digest.hexdigest() != expected[1]:
            raise errors.InvalidArgument(f"digest mismatch {checksum}: {expected[0]}:{digest.hexdigest()}")
        if not filename and dest.endswith("/"):
            raise errors.InvalidArgument(f"ADD failed: cannot determine filename for source {url}")
        os.utime(os.path.join(directory, name), (mtime, mtime))
        dfd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            (found,) = resolve_sources(dfd, [name], cmd="ADD", in_context=False)
        finally:
            os.close(dfd)
        hexhash = found.hash.removeprefix("file:")
        return Download(directory, filename, hexhash, Source(name, False, hexhash, decompress=False))
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _last_modified(value: str) -> int:
    """Go's http.ParseTime; unparsable or absent: the Unix epoch (moby's zero time)."""
    if not value:
        return 0
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0
    return max(0, int(parsed.timestamp()))


# -- POST /build?remote= ---------------------------------------------------------------------

@dataclass(frozen=True)
class RemoteContext:
    directory: str | None  # the context, inside workdir; None when the URL was a Dockerfile
    dockerfile_text: str | None = None


_ACCEPTABLE = re.compile(r"(?:application/(?:(?:x\-)?tar|octet\-stream|((?:x\-)?(?:gzip|bzip2?|xz)))|(?:text/plain))")
_PREAMBLE = 100


def fetch_context(remote: str, workdir: str, progress: Progress | None = None) -> RemoteContext:
    if is_git_url(remote):
        return RemoteContext(gitcontext.clone(remote, workdir))
    if is_url(remote):
        return _url_context(remote, workdir, progress)
    raise errors.InvalidArgument(f"remoteURL ({remote}) could not be recognized as URL")


def _url_context(url: str, workdir: str, progress: Progress | None) -> RemoteContext:
    fetch = _get(url, f"error downloading remote context {url}: ")
    spool = tempfile.NamedTemporaryFile(dir=workdir, prefix="context-", delete=False)
    try:
        try:
            done = 0
            for chunk in fetch.chunks():
                spool.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, fetch.length)
            header_type = fetch.response.headers.get("content-type", "")
        except httpx.HTTPError as exc:
            raise errors.Internal(f"error downloading remote context {url}: {exc}") from None
        finally:
            fetch.close()
        spool.flush()
        spool.seek(0)
        preamble = spool.read(_PREAMBLE)
        prefix = f"error detecting content type for remote {url}: "
        if not preamble:
            raise errors.InvalidArgument(prefix + "empty response")
        content_type = header_type
        if not header_type or header_type == "application/octet-stream":
            content_type = _sniff(preamble)
        match = _ACCEPTABLE.search(content_type)
        if match is None:
            raise errors.InvalidArgument(prefix + f'unsupported Content-Type "{header_type}"')
        spool.seek(0)
        if match.group(0) == "text/plain":
            return RemoteContext(None, spool.read().decode("utf-8", "surrogateescape"))
        directory = tempfile.mkdtemp(prefix="docker-build-context", dir=workdir)
        try:
            _extract_context(spool, directory)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return RemoteContext(directory)
    finally:
        spool.close()
        os.unlink(spool.name)


def _sniff(data: bytes) -> str:
    """The part of Go's ``http.DetectContentType`` that matters here."""
    if data.startswith(b"\x1f\x8b\x08"):
        return "application/x-gzip"
    stripped = data.lstrip(b"\t\n\x0c\r ").lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<head", b"<script", b"<body", b"<?xml")):
        return "text/html; charset=utf-8"
    if any(b <= 0x08 or b == 0x0B or 0x0E <= b <= 0x1A or 0x1C <= b <= 0x1F for b in data):
        return "application/octet-stream"
    return "text/plain; charset=utf-8"


def _extract_context(spool, directory: str) -> None:
    root_fd = os.open(directory, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        untar(open_decompressed(spool), root_fd, "/")
    except (Breakout, tarfile.TarError, OSError, EOFError) as exc:
        raise errors.InvalidArgument(f"error processing tar file: {exc}") from None
    finally:
        os.close(root_fd)
