"""The builder's stages through POST /build on a real ketchd: independent stages run at the
same time (proved by a rendezvous, not by timing) with their output still in stage order,
stages the target does not need never run, ONBUILD triggers of a base run first, BuildKit's
platform ARGs, and the unused build-arg warning."""

import pytest

from tests.integration.test_build_cache import build, text
from tests.integration.buildclean import remove_build_leftovers

pytestmark = pytest.mark.integration


def _remove(daemon, *refs: str) -> None:
    """The images a test built and their steps' (the cache), so the shared daemon's busybox
    has no child images left for the next test on this worker."""
    for ref in refs:
        daemon.api("DELETE", f"/images/{ref}?force=1")
    remove_build_leftovers(daemon)


def test_independent_stages_meet_halfway_and_report_in_order(daemon):
    # stage a waits for a file only stage b makes, in a cache mount both see: built one
    # after the other, a would time out
    dockerfile = (
        "FROM busybox AS a\n"
        "RUN --mount=type=cache,id=meet,target=/c i=0; until [ -e /c/b ]; do i=$((i+1)); "
        "[ $i -gt 400 ] && exit 9; sleep 0.05; done; echo a saw b\n"
        "FROM busybox AS b\n"
        "RUN --mount=type=cache,id=meet,target=/c echo b > /c/b; echo b wrote\n"
        "FROM busybox\n"
        "COPY --from=a /bin/true /a\n"
        "COPY --from=b /bin/true /b\n")
    image, messages = build(daemon, {"Dockerfile": dockerfile}, t="stages-meet:1")
    try:
        out = text(messages)
        assert "a saw b\n" in out and "b wrote\n" in out
        # stage a's lines come first although b finished first
        assert out.index("a saw b") < out.index("Step 3/7 : FROM busybox AS b") < out.index("b wrote")
        steps = [m["stream"] for m in messages if m.get("stream", "").startswith("Step ")]
        assert [s.split(" :")[0] for s in steps] == [f"Step {i}/7" for i in range(1, 8)]
        auxes = [m["aux"]["ID"] for m in messages if "aux" in m]
        assert auxes[-1] == image and len(auxes) == 3  # one per stage
    finally:
        _remove(daemon, "stages-meet:1")


def test_stages_the_target_does_not_need_never_run(daemon):
    dockerfile = ("FROM busybox AS broken\nRUN echo broken; exit 7\n"
                  "FROM busybox AS good\nRUN echo good > /g\n"
                  "FROM good\nCMD [\"cat\", \"/g\"]\n")
    image, messages = build(daemon, {"Dockerfile": dockerfile}, t="stages-skip:1")
    try:
        out = text(messages)
        assert "broken" not in out.replace("FROM busybox AS broken", "")
        assert "Step 1/4 : FROM busybox AS good" in out
        status, doc = daemon.api("GET", f"/images/{image}/json")
        assert doc["Config"]["Cmd"] == ["cat", "/g"]
        target, messages = build(daemon, {"Dockerfile": dockerfile}, target="good", t="stages-skip:2")
        assert "Step 2/2 : RUN echo good > /g" in text(messages)
    finally:
        _remove(daemon, "stages-skip:1", "stages-skip:2")


def test_onbuild_triggers_run_in_the_child(daemon):
    parent = ("FROM busybox\nONBUILD RUN echo trig > /trig\nONBUILD COPY t.txt /t.txt\n"
              "ONBUILD ENV T=1\n")
    parent_id, _ = build(daemon, {"Dockerfile": parent, "t.txt": "T\n"}, t="onbuild-parent:1")
    try:
        status, doc = daemon.api("GET", f"/images/{parent_id}/json")
        assert doc["Config"]["OnBuild"] == ["RUN echo trig > /trig", "COPY t.txt /t.txt", "ENV T=1"]
        child = "FROM onbuild-parent:1\nRUN cat /trig /t.txt\n"
        image, messages = build(daemon, {"Dockerfile": child, "t.txt": "child\n"}, t="onbuild-child:1")
        out = text(messages)
        assert "# Executing 3 build triggers\n" in out
        assert "trig\nchild\n" in out
        status, doc = daemon.api("GET", f"/images/{image}/json")
        assert doc["Config"]["OnBuild"] is None and "T=1" in doc["Config"]["Env"]
        status, history = daemon.api("GET", f"/images/{image}/history")
        created = [h["CreatedBy"] for h in history[:4]]
        assert created[0] == "/bin/sh -c cat /trig /t.txt"
        assert created[1] == "/bin/sh -c #(nop)  ENV T=1"
        assert created[2].startswith("/bin/sh -c #(nop) COPY file:") and created[3] == "/bin/sh -c echo trig > /trig"
    finally:
        _remove(daemon, "onbuild-child:1", "onbuild-parent:1")


def test_platform_args_and_unused_build_args(daemon):
    dockerfile = "FROM --platform=$BUILDPLATFORM busybox\nARG TARGETARCH\nARG USED\nRUN echo arch=$TARGETARCH used=$USED\n"
    image, messages = build(daemon, {"Dockerfile": dockerfile}, t="stages-args:1",
                            buildargs='{"USED": "u", "NOTUSED": "x"}')
    try:
        out = text(messages)
        arch = daemon.api("GET", "/version")[1]["Arch"]
        assert f"arch={arch} used=u\n" in out
        assert out.endswith("[Warning] One or more build-args [NOTUSED] were not consumed\n"
                            "Successfully built " + image.removeprefix("sha256:")[:12] + "\n"
                            "Successfully tagged stages-args:1\n")
        status, history = daemon.api("GET", f"/images/{image}/history")
        assert history[0]["CreatedBy"] == f"|2 TARGETARCH={arch} USED=u /bin/sh -c echo arch=$TARGETARCH used=$USED"
    finally:
        _remove(daemon, "stages-args:1")


def test_copy_from_a_rebuilt_stage_with_the_same_artifact_is_cached(daemon):
    """ACCEPT12 F1d/F5: the COPY --from hash is over the stage's files, as dockerd's (the
    ORACLE12 value for `RUN echo b > /b`), so a rerun of the stage that makes the same file
    leaves the COPY and the steps after it cached."""
    dockerfile = ("FROM busybox AS b\nARG X\nRUN echo \"$X\" > /dev/null; echo b > /b\n"
                  "FROM busybox\nCOPY --from=b /b /b\nRUN cat /b\n")
    try:
        first, _ = build(daemon, {"Dockerfile": dockerfile}, buildargs='{"X": "1"}', t="stages-art:1")
        second, messages = build(daemon, {"Dockerfile": dockerfile}, buildargs='{"X": "2"}',
                                 t="stages-art:2")
        out = text(messages)
        assert second == first
        assert "Step 3/6 : RUN echo \"$X\" > /dev/null; echo b > /b\n ---> Running in" in out
        assert "COPY --from=b /b /b\n ---> Using cache" in out, out
        assert "RUN cat /b\n ---> Using cache" in out, out
        status, history = daemon.api("GET", f"/images/{second}/history")
        assert any(h["CreatedBy"] == "/bin/sh -c #(nop) COPY file:468064841c1720b182fd2d452ba"
                   "f885b13e50394e2cf5049483cbf6cbd13e611 in /b " for h in history), history
    finally:
        _remove(daemon, "stages-art:1", "stages-art:2")


def test_a_relative_volume_is_under_the_root(daemon):
    """ACCEPT12 F1c: `VOLUME rel` (kept as written in the config, as dockerd) is /rel for
    the RUNs after it, not a runtime error."""
    dockerfile = "FROM busybox\nWORKDIR /w\nVOLUME rel\nRUN ls -d /rel\n"
    try:
        image, messages = build(daemon, {"Dockerfile": dockerfile}, t="stages-vol:1")
        assert "/rel\n" in text(messages)
        status, doc = daemon.api("GET", f"/images/{image}/json")
        assert doc["Config"]["Volumes"] == {"rel": {}}
    finally:
        _remove(daemon, "stages-vol:1")
