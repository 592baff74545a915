"""RUN's container request, moby's failure text, the mount targets and the cache mount
directories (engine/builds/runstep.py, runmounts.py, cachemounts.py)."""

import asyncio
import json
import os
import time
import stat

import pytest

from ketch.build.backend import ImageState, HistoryEntry, RunSpec, Step
from ketch.build.instructions import MountSpec
from ketch.engine.builds import cachemounts
from ketch.engine.builds.runmounts import Prepared, secret_id, target_of
from ketch.engine.builds.runstep import container_body, failed

PARENT = ImageState("sha256:" + "a" * 64, {"config": {"Entrypoint": ["/entry"], "Cmd": ["x"]}})
STEP = Step(PARENT, {}, {}, HistoryEntry("/bin/sh -c make"), "")


def test_failed_is_mobys_text_with_the_shell():
    exc = failed(("/bin/sh", "-c", "false"), 1)
    assert str(exc) == "The command '/bin/sh -c false' returned a non-zero code: 1"
    assert exc.exit_code == 1
    assert str(failed(("false",), 7)) == "The command 'false' returned a non-zero code: 7"


def test_container_body_runs_the_argv_not_the_image_entrypoint():
    spec = RunSpec(("/bin/sh", "-c", "make"), ("PATH=/bin", "A=b"), user="nobody", workdir="/src",
                   network="none", extra_hosts=("h:1.2.3.4",), shm_size=1 << 20, cgroup_parent="/p")
    mounts = Prepared(mounts=[{"Type": "bind", "Source": "/s", "Target": "/t", "ReadOnly": True}],
                      tmpfs={"/tmp": "exec"}, env=["TOKEN=x"])
    body = container_body(STEP, spec, mounts)
    assert body["Image"] == PARENT.id
    assert body["Cmd"] == ["/bin/sh", "-c", "make"]
    assert body["Entrypoint"] == [""]  # moby's withEntrypointOverride: none
    assert body["Env"] == ["PATH=/bin", "A=b", "TOKEN=x"]
    assert body["User"] == "nobody" and body["WorkingDir"] == "/src"
    assert body["Healthcheck"] == {"Test": ["NONE"]}
    host = body["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ExtraHosts"] == ["h:1.2.3.4"] and host["ShmSize"] == 1 << 20
    assert host["CgroupParent"] == "/p"
    assert host["LogConfig"]["Type"] == "none"
    assert host["Mounts"] == mounts.mounts and host["Tmpfs"] == {"/tmp": "exec"}


def test_container_body_default_network():
    body = container_body(STEP, RunSpec(("true",), ()), Prepared())
    assert body["HostConfig"]["NetworkMode"] == "default"
    assert "WorkingDir" not in body  # the image's


@pytest.mark.parametrize("mount, workdir, want", [
    (MountSpec(type="cache", target="/root/.cache"), "/", "/root/.cache"),
    (MountSpec(type="bind", target="src"), "/app", "/app/src"),
    (MountSpec(type="bind", target="/a/../b/"), "/", "/b"),
    (MountSpec(type="secret", id="tok"), "/", "/run/secrets/tok"),
    (MountSpec(type="secret", id="tok", env="TOK"), "/", ""),  # env only
    (MountSpec(type="secret", id="tok", env="TOK", target="/s"), "/", "/s"),
])
def test_target_of(mount, workdir, want):
    assert target_of(mount, workdir) == want


def test_secret_id_is_id_then_source_then_target_name():
    assert secret_id(MountSpec(type="secret", id="a", target="/x/b")) == "a"
    assert secret_id(MountSpec(type="secret", source="s", target="/x/b")) == "s"
    assert secret_id(MountSpec(type="secret", target="/x/b")) == "b"


def _acquire(cache, cid, sharing="shared", mode=None, uid=None, gid=None):
    return cache.acquire(cid, sharing, mode, uid, gid, "cached mount /c from exec make")


def test_cache_dir_persists_by_id_and_keeps_its_first_mode(tmp_path):
    async def go():
        cache = cachemounts.CacheMounts(str(tmp_path))
        lease = await _acquire(cache, "/c", mode=0o750, uid=1000, gid=1001)
        assert lease.fresh
        st = os.stat(lease.path)
        assert stat.S_IMODE(st.st_mode) == 0o750 and (st.st_uid, st.st_gid) == (1000, 1001)
        with open(os.path.join(lease.path, "f"), "w") as f:
            f.write("kept")
        await cache.release(lease)
        again = await _acquire(cache, "/c", mode=0o700)
        assert again.path == lease.path and not again.fresh
        assert stat.S_IMODE(os.stat(again.path).st_mode) == 0o750
        assert open(os.path.join(again.path, "f")).read() == "kept"
        other = await _acquire(cache, "other")
        assert other.path != lease.path and os.listdir(other.path) == []
        assert stat.S_IMODE(os.stat(other.path).st_mode) == 0o755
        [rec] = [r for r in cache.records() if r.in_use and r.size == 4]
        assert rec.type == "exec.cachemount" and rec.usage_count == 2
        assert rec.description == "cached mount /c from exec make"
        await cache.release(again)
        await cache.release(other)
        meta = json.load(open(os.path.join(os.path.dirname(lease.path), "meta.json")))
        assert meta["id"] == "/c"
    asyncio.run(go())


def test_cache_sharing_private_gets_its_own_dir_while_in_use(tmp_path):
    async def go():
        cache = cachemounts.CacheMounts(str(tmp_path))
        first = await _acquire(cache, "id")
        private = await _acquire(cache, "id", "private")
        assert private.path != first.path and os.path.isdir(private.path)
        await cache.release(private)
        assert not os.path.exists(private.path)
        await cache.release(first)
        alone = await _acquire(cache, "id", "private")
        assert alone.path == first.path  # nobody else uses it: the cache itself
        await cache.release(alone)
    asyncio.run(go())


def test_cache_sharing_locked_waits_for_the_holder(tmp_path):
    async def go():
        cache = cachemounts.CacheMounts(str(tmp_path))
        first = await _acquire(cache, "id", "locked")
        second = asyncio.ensure_future(_acquire(cache, "id", "locked"))
        await asyncio.sleep(0.05)
        assert not second.done()
        await cache.release(first)
        lease = await asyncio.wait_for(second, 5)
        assert lease.path == first.path
        await cache.release(lease)
    asyncio.run(go())


def test_cache_prune_removes_unused_selected(tmp_path):
    async def go():
        cache = cachemounts.CacheMounts(str(tmp_path))
        held = await _acquire(cache, "held")
        free = await _acquire(cache, "free")
        with open(os.path.join(free.path, "f"), "w") as f:
            f.write("12345")
        await cache.release(free)
        removed, freed = await cache.prune(lambda rec: True)
        assert removed == [cachemounts.key_of("free")[:25]] and freed == 5
        assert os.path.isdir(held.path) and not os.path.exists(free.path)
        await cache.release(held)
    asyncio.run(go())


def test_cache_private_acquire_cancelled_leaves_no_directory(tmp_path):
    async def go():
        cache = cachemounts.CacheMounts(str(tmp_path))
        held = await _acquire(cache, "id")
        task = asyncio.ensure_future(_acquire(cache, "id", "private"))
        await asyncio.sleep(0)  # its thread is making the private directory
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        top = os.path.dirname(held.path)
        deadline = time.monotonic() + 10  # the copy's thread ends, then its undo runs: under load, seconds
        while sorted(os.listdir(top)) != ["data", "meta.json"] and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert sorted(os.listdir(top)) == ["data", "meta.json"]
        await cache.release(held)
    asyncio.run(go())


def test_cache_prune_keeps_a_private_copy_in_use(tmp_path):
    # REVIEW12 #4: A holds data/, B gets a private copy, A ends: B's directory is in use
    async def go():
        cache = cachemounts.CacheMounts(str(tmp_path))
        first = await _acquire(cache, "x")
        private = await _acquire(cache, "x", "private")
        await cache.release(first)
        assert [r.in_use for r in cache.records()] == [True]
        assert await cache.prune(lambda rec: True) == ([], 0)
        assert os.path.isdir(private.path)
        await cache.release(private)
        assert (await cache.prune(lambda rec: True))[0] == [cachemounts.key_of("x")[:25]]
    asyncio.run(go())


def test_cache_prune_waits_for_a_lease_being_opened(tmp_path):
    # a prune between acquire's thread start and its count removed what the run mounts next
    async def go():
        cache = cachemounts.CacheMounts(str(tmp_path))
        made = await _acquire(cache, "x")
        await cache.release(made)
        opening = cache._open

        def slow(*args):
            import time
            time.sleep(0.2)
            return opening(*args)
        cache._open = slow
        task = asyncio.ensure_future(_acquire(cache, "x"))
        await asyncio.sleep(0.05)  # its thread is opening data/
        assert await cache.prune(lambda rec: True) == ([], 0)
        lease = await task
        assert os.path.isdir(lease.path)
        await cache.release(lease)
    asyncio.run(go())
