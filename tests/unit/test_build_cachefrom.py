"""The builder's cache probe with --cache-from: the local cache first, then the backend's
cache_from for each step until one misses both (moby's imageProber over an imageCache)."""

from ketch.build.request import StepCached
from tests.unit.buildfake import FakeBackend
from tests.unit.buildhelpers import Build, dockerfile, env, stage


class FromBackend(FakeBackend):
    """cached_from answers for the steps whose created_by is in ``known``."""

    def __init__(self, known: set[str]):
        super().__init__()
        self.known = known

    async def cached_from(self, step):
        self.calls.append(("cached_from", step.history.created_by, step.cache_key))
        if step.history.created_by in self.known:
            return await self.commit(step)
        return None


DOCKERFILE = dockerfile(stage("busybox", env(("A", "1")), env(("B", "2")), env(("C", "3"))))


def test_cache_from_is_asked_after_the_local_cache_until_a_step_misses_both():
    backend = FromBackend({"/bin/sh -c #(nop)  ENV A=1"})
    b = Build(backend)
    b(DOCKERFILE, cache_from=("app:1",))
    asked = [c for c in backend.calls if c[0] in ("cached", "cached_from")]
    assert [c[0] for c in asked] == ["cached", "cached_from", "cached", "cached_from"]
    assert asked[1][1] == "/bin/sh -c #(nop)  ENV A=1" and asked[1][2] == asked[0][1]
    assert [e.index for e in b.events if isinstance(e, StepCached)] == [2]


def test_without_cache_from_the_backend_is_not_asked():
    backend = FromBackend({"/bin/sh -c #(nop)  ENV A=1"})
    b = Build(backend)
    b(DOCKERFILE)
    assert not [c for c in backend.calls if c[0] == "cached_from"]
    assert not [e for e in b.events if isinstance(e, StepCached)]
