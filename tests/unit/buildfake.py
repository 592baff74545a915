"""An in-memory ``BuildBackend`` for the builder's unit tests.

Images are config documents plus a dict of files (path -> bytes, directories as None);
their ids are the sha256 of the document, as Docker's. ``mutate`` materialises the
parent's files in a temporary directory, runs the edit on it (so the real edit
functions, WORKDIR's mkdir and the copier, run) and reads the tree back. ``run`` calls
``on_run(spec, files)`` (default: nothing happens) which may change ``files`` and
returns (output, exit code). Every call is recorded in ``calls``.
"""

import asyncio
import hashlib
import json
import os
import shutil
import tempfile

from ketch.build.backend import ImageState, MountedRoots, RunSpec, Step
from ketch.errors import BuildStepFailed, NotFound


def busybox_document() -> dict:
    return {
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "b" * 64]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "busybox"}],
    }


class FakeBackend:
    def __init__(self):
        self.images: dict[str, ImageState] = {}
        self.files: dict[str, dict[str, bytes | None]] = {}
        self.refs: dict[str, str] = {}
        self.cache: dict[str, str] = {}
        self.calls: list[tuple] = []
        self.clock = 0
        self.on_run = lambda spec, files: (b"", 0)
        self.add_base("busybox", busybox_document(), {"/bin/sh": b"ELF", "/etc/passwd": b"root:x:0:0::/root:/bin/sh\n"})

    def add_base(self, ref: str, document: dict, files: dict | None = None) -> ImageState:
        image = self._store(document, files or {})
        self.refs[ref] = image.id
        return image

    def _store(self, document: dict, files: dict) -> ImageState:
        text = json.dumps(document, sort_keys=True)
        image_id = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        image = ImageState(image_id, document)
        self.images[image_id] = image
        self.files[image_id] = dict(files)
        return image

    # -- BuildBackend -----------------------------------------------------------------
    async def base_image(self, ref, platform, pull, progress):
        self.calls.append(("base_image", ref, platform, pull))
        image_id = self.refs.get(ref) or (ref if ref in self.images else None)
        if image_id is None:
            raise NotFound(f"pull access denied for {ref}, repository does not exist or may require 'docker login'")
        return self.images[image_id]

    async def image(self, image_id):
        return self.images[image_id]

    async def cached(self, key):
        self.calls.append(("cached", key))
        image_id = self.cache.get(key)
        return self.images.get(image_id) if image_id else None

    def _make(self, step: Step, files: dict, empty: bool) -> ImageState:
        self.clock += 1
        parent = step.parent.document if step.parent else {"rootfs": {"type": "layers", "diff_ids": []}, "history": []}
        history = dict(created_by=step.history.created_by, created=f"t{self.clock}")
        if step.history.author:
            history["author"] = step.history.author
        if step.history.empty_layer if step.history.empty_layer is not None else empty:
            history["empty_layer"] = True
        diff_ids = list(parent["rootfs"]["diff_ids"])
        if not history.get("empty_layer"):
            diff_ids.append("sha256:" + hashlib.sha256(json.dumps(sorted(files.items(), key=str), default=str).encode()).hexdigest())
        document = {
            "architecture": "amd64", "os": "linux", "config": step.config,
            "container_config": step.container_config, "created": f"t{self.clock}",
            "history": [*parent.get("history", []), history],
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        if step.history.author:
            document["author"] = step.history.author
        image = self._store(document, files)
        if step.cache_key:
            self.cache[step.cache_key] = image.id
        return image

    def _parent_files(self, step: Step) -> dict:
        return dict(self.files[step.parent.id]) if step.parent else {}

    async def commit(self, step):
        self.calls.append(("commit", step))
        return self._make(step, self._parent_files(step), True)

    async def run(self, step, spec: RunSpec, output, started):
        self.calls.append(("run", step, spec))
        started("c" * 64)
        files = self._parent_files(step)
        before = dict(files)
        await asyncio.sleep(0)  # another stage's step may start meanwhile
        data, code = self.on_run(spec, files)
        self.calls.append(("ran", spec.argv))
        if data:
            output(data)
        if code:
            raise BuildStepFailed(f"The command '{' '.join(spec.argv)}' returned a non-zero code: {code}", code)
        return self._make(step, files, files == before)

    async def read_root(self, image_id, fn):
        self.calls.append(("read_root", image_id))
        tmp = tempfile.mkdtemp(prefix="buildfake-")
        try:
            root = os.path.join(tmp, "root")
            _write_tree(root, self.files[image_id])
            fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
            try:
                return await asyncio.to_thread(fn, fd)
            finally:
                os.close(fd)
        finally:
            shutil.rmtree(tmp)

    async def mutate(self, step, edit, sources=()):
        self.calls.append(("mutate", step, sources))
        files = self._parent_files(step)
        tmp = tempfile.mkdtemp(prefix="buildfake-")
        roots = {}
        try:
            root = os.path.join(tmp, "root")
            _write_tree(root, files)
            for image_id in sources:
                path = os.path.join(tmp, "src-" + image_id.removeprefix("sha256:"))
                _write_tree(path, self.files[image_id])
                roots[image_id] = os.open(path, os.O_PATH | os.O_DIRECTORY)
            fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
            try:
                edit(MountedRoots(fd, roots))
            finally:
                os.close(fd)
            after = _read_tree(root)
        finally:
            for fd in roots.values():
                os.close(fd)
            shutil.rmtree(tmp)
        return self._make(step, after, after == files)

    async def tag(self, image_id, refs):
        self.calls.append(("tag", image_id, refs))
        for ref in refs:
            self.refs[ref] = image_id


def _write_tree(root: str, files: dict) -> None:
    os.makedirs(root, exist_ok=True)
    for path, data in sorted(files.items()):
        host = os.path.join(root, path.lstrip("/"))
        if data is None:
            os.makedirs(host, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(host), exist_ok=True)
            with open(host, "wb") as f:
                f.write(data)


def _read_tree(root: str) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = "/" + os.path.relpath(dirpath, root).removeprefix(".").lstrip("/")
        for d in dirnames:
            out[os.path.join(rel, d)] = None
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                out[os.path.join(rel, name)] = f.read()
    return out


class FakeFiles:
    """FileWork over a context dir: ``file:<sha256 of content>`` (``multi:`` for several),
    the sources copied to dest (a file onto dest, or into it when dest ends in /)."""

    def __init__(self):
        self.jobs = []

    def hash(self, job, from_root=None):
        self.jobs.append(job)
        if job.from_image and from_root is not None:  # the content, as moby's
            hashes = []
            for src in job.sources:
                with open(f"/proc/self/fd/{from_root}/{src.lstrip('/')}", "rb") as f:
                    hashes.append("file:" + hashlib.sha256(f.read()).hexdigest())
            return hashes[0] if len(hashes) == 1 else \
                "multi:" + hashlib.sha256(",".join(hashes).encode()).hexdigest()
        if job.from_image:
            text = job.from_image + "\0" + "\0".join(job.sources)
            return "file:" + hashlib.sha256(text.encode()).hexdigest()
        hashes = []
        for src in job.sources:
            path = os.path.join(job.context_dir, src)
            if not os.path.exists(path):
                raise NotFound(f"COPY failed: file not found in build context or excluded by .dockerignore: stat {src}: file does not exist")
            with open(path, "rb") as f:
                hashes.append("file:" + hashlib.sha256(f.read()).hexdigest())
        if len(hashes) == 1:
            return hashes[0]
        return "multi:" + hashlib.sha256(",".join(hashes).encode()).hexdigest()

    def edit(self, job):
        def run(roots: MountedRoots) -> None:
            root = f"/proc/self/fd/{roots.root}"
            base = f"/proc/self/fd/{roots.sources[job.from_image]}" if job.from_image else job.context_dir
            for src in job.sources:
                with open(os.path.join(base, src.lstrip("/")), "rb") as f:
                    data = f.read()
                dest = job.dest + os.path.basename(src) if job.dest.endswith("/") else job.dest
                host = os.path.join(root, dest.lstrip("/"))
                if os.path.isdir(host):  # an existing directory: into it
                    host = os.path.join(host, os.path.basename(src))
                os.makedirs(os.path.dirname(host), exist_ok=True)
                with open(host, "wb") as f:
                    f.write(data)
        return run
