"""Hand-built Dockerfiles for the builder's unit tests, and a runner over the fake backend."""

import asyncio

from ketch.build import builder, instructions as ins
from ketch.build.request import BuildRequest
from tests.unit.buildfake import FakeBackend, FakeFiles

L = ins.Location(1, 1)
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def stage(base: str, *commands, name: str = "", platform: str = "") -> ins.Stage:
    original = f"FROM {base}" + (f" AS {name}" if name else "")
    return ins.Stage(L, original, base, name.lower(), platform, tuple(commands))


def dockerfile(*stages, meta=()) -> ins.Dockerfile:
    return ins.Dockerfile(ins.Directives(), tuple(meta), tuple(stages))


def env(*pairs, original="") -> ins.EnvInstr:
    kvs = tuple(ins.KeyValue(k, v) for k, v in pairs)
    return ins.EnvInstr(L, original or "ENV " + " ".join(f"{k}={v}" for k, v in pairs), pairs=kvs)


def arg(key, value=None) -> ins.ArgInstr:
    text = key if value is None else f"{key}={value}"
    return ins.ArgInstr(L, "ARG " + text, args=(ins.ArgSpec(key, value),))


def run(cmd, shell=True, **kw) -> ins.RunInstr:
    args = (cmd,) if shell else tuple(cmd)
    return ins.RunInstr(L, "RUN " + (cmd if shell else str(list(cmd))), command=ins.Command(args, shell), **kw)


def cmd(words, shell=False) -> ins.CmdInstr:
    args = (words,) if shell else tuple(words)
    return ins.CmdInstr(L, "CMD x", command=ins.Command(args, shell))


def entrypoint(words, shell=False) -> ins.EntrypointInstr:
    args = (words,) if shell else tuple(words)
    return ins.EntrypointInstr(L, "ENTRYPOINT x", command=ins.Command(args, shell))


def copy(*sources, dest, **kw) -> ins.CopyInstr:
    return ins.CopyInstr(L, "COPY " + " ".join([*sources, dest]),
                         files=ins.SourcesAndDest(tuple(sources), dest), **kw)


class Build:
    """One build on the fake backend: its events, result, and the backend to inspect."""

    def __init__(self, backend: FakeBackend | None = None):
        self.backend = backend or FakeBackend()
        self.files = FakeFiles()
        self.events = []
        self.triggers: dict[str, ins.Instruction] = {}

    def __call__(self, df: ins.Dockerfile, context_dir: str | None = None, **request):
        self.events = []
        req = BuildRequest(**request)
        return asyncio.run(builder.build_dockerfile(
            df, req, context_dir, self.backend, self.events.append, self.files, self._trigger))

    def _trigger(self, expression: str) -> ins.Instruction:
        return self.triggers[expression]

    def image(self, image_id: str) -> dict:
        return self.backend.images[image_id].document

    def created_by(self, image_id: str) -> list[str]:
        return [h["created_by"] for h in self.image(image_id)["history"]]
