"""The build rows: Dockerfiles built with `DOCKER_BUILDKIT=0 docker build` on dockerd 20.10
(moby's classic builder, the oracle) and on ketchd, and what to compare.

Each row writes its context (files with fixed mtimes, so that what is copied compares),
builds it on both daemons with the same docker client and compares, after normalising
ids, times and sizes (normalise.py):

    stream    the build's stdout (Step lines, ` ---> Using cache`, RUN output, warnings,
              "Successfully built/tagged")
    stderr    the error, if any (the legacy builder's DEPRECATED notice aside)
    exit      the client's exit code (1, or a failing RUN's own code)
    image     the new image's config document (from `docker save`): config,
              container_config, the history entries the build added (created_by,
              empty_layer, comment, author), how many layers it added, author
    probe     a shell command's output in a container of the built image
    after     rebuilds after changing the context (cache hits and misses): their stream,
              stderr and exit
    containers  the state and command of each container the builds left behind

``expect`` is the differential table's: SAME, ``pending(...)`` (an xfail, strict) or
``differs(reason, parts...)`` with the parts above not compared (build_differs).
"""

from dataclasses import dataclass

from tests.integration.differential.table import SAME, Expect, pending

BUILD_PARTS = ("stream", "stderr", "exit", "image", "probe", "after", "containers")
MTIME = 1600000000  # every context file's mtime: COPY keeps it, so probes may print it
REMOTE = {"remote.txt": "R\n", "dir/file.txt": "F\n"}  # served at {url} (Last-Modified 1500000000)


def build_differs(reason: str, *parts: str, mask: tuple[str, ...] = ()) -> Expect:
    assert (parts or mask) and set(parts) <= set(BUILD_PARTS), (parts, mask)
    return Expect("differs", reason, parts, mask)


@dataclass(frozen=True)
class Mode:
    """A file with a mode of its own."""
    content: str
    mode: int


@dataclass(frozen=True)
class Link:
    target: str


@dataclass(frozen=True)
class TarGz:
    """A gzipped tar (ADD extracts it): name -> content, entries owned 1234:5678, mode 0640."""
    entries: tuple[tuple[str, str], ...]


DIR = object()  # an empty directory


@dataclass(frozen=True)
class Rebuild:
    """Change the context (write files, set mtimes, chmod), then build again."""
    what: str
    files: tuple[tuple[str, str], ...] = ()
    mtimes: tuple[tuple[str, int], ...] = ()
    modes: tuple[tuple[str, int], ...] = ()
    args: tuple[str, ...] | None = None   # None: the row's args


@dataclass(frozen=True)
class BuildRow:
    name: str
    dockerfile: str | None          # None: the row's args name it (-f) or stdin has it
    files: tuple[tuple[str, object], ...] = ()
    args: tuple[str, ...] = ()
    stdin: str | None = None
    context: str | None = None      # what is passed as PATH ("-": stdin), else the context dir
    probe: str | None = None
    after: tuple[Rebuild, ...] = ()
    expect: Expect = SAME           # docker build: ketchd against dockerd
    cli: Expect | None = SAME       # ketch build against docker build, both on ketchd (None: not played)
    parent: str | None = None       # a row built first (its image tagged diff-build/<parent>)

    @property
    def tag(self) -> str:
        return f"diff-build/{self.name}:latest"


def _f(**files) -> tuple:
    return tuple(files.items())


STAGES_NEEDED = ("by design (issue 12): ketch builds only the stages the target needs, and numbers "
                 "the steps of those; dockerd 20.10's classic builder runs every stage up to the target")
BUILDKIT_SYNTAX = ("by design (README, Dockerfile syntax): ketch takes heredocs and BuildKit's flags "
                   "(COPY --chmod/--link, RUN --network/--mount), which dockerd 20.10's classic "
                   "builder refuses")
STAT = "stat -c '%n %u:%g %a %s' "          # no times: the created dirs' are the build's
STAT_MTIME = "stat -c '%n %u:%g %a %s %Y' "  # for files whose mtime comes from the context


ROWS: tuple[BuildRow, ...] = (
    # -- stream format, ENV, ARG
    # stdout and stderr are two pipes: their order in the stream is only certain apart in time
    BuildRow("simple", "FROM busybox\nENV A=1\nRUN echo hello && sleep 0.2 && echo err >&2\nCMD [\"echo\", \"hi\"]\n"),
    BuildRow("env_forms", "FROM busybox\nENV A=1\nENV B 2\nENV C=3 D=\"4 5\" E=six\\ seven\nENV A=override\n"
             "ENV F=${A}x G=$B H=${NOPE:-dflt} I=${A:+alt} J='$A' K=\"$A\" L=\\$A\n"
             "ENV M two words here\nENV A=new N=$A\n"),
    BuildRow("arg_forms", "FROM busybox\nARG X\nARG Y=def\nARG UNUSED=u\nRUN echo X=$X Y=$Y\n"
             "ENV Z=$Y\nRUN echo done\nARG W=w1 V=v1\nRUN echo $W $V\n",
             args=("--build-arg", "X=1", "--build-arg", "NOTDECLARED=2", "--build-arg", "HTTP_PROXY=http://p:1")),
    BuildRow("arg_proxy_undeclared", "FROM busybox\nRUN echo proxy=$HTTP_PROXY\n",
             args=("--build-arg", "HTTP_PROXY=http://p:1")),
    BuildRow("arg_env_precedence", "FROM busybox\nARG V=arg\nENV V=env\nRUN echo V=$V\nARG V=arg2\nRUN echo V=$V\n",
             args=("--build-arg", "V=cli")),
    BuildRow("meta_args", "ARG BASE=nosuch\nARG TAG=latest\nARG V=meta\nFROM $BASE:${TAG}\nRUN echo v=$V\nARG V\n"
             "ARG BASE\nRUN echo base=$BASE tag=$TAG v=$V\n", args=("--build-arg", "BASE=busybox")),
    BuildRow("run_forms", "FROM busybox\nRUN echo shell > /s\nRUN [\"sh\", \"-c\", \"echo exec > /e\"]\n"
             "RUN [\"/bin/true\"]\nRUN printf 'a\\nb\\n'; echo d\nRUN echo one \\\n  two\n"
             "RUN rm /bin/true && mkdir -p /newdir/sub && echo hi > /newdir/sub/f\n",
             probe="ls /bin/true; cat /s /e /newdir/sub/f"),
    BuildRow("run_env", "FROM busybox\nENV E=1\nARG A=2\nWORKDIR /wd\nUSER daemon\n"
             "RUN env | sort; id; pwd; cat /etc/hostname; cat /etc/hosts; ls /\n",
             args=("--network", "none", "--build-arg", "HTTP_PROXY=http://p:1")),
    BuildRow("run_volume_discarded", "FROM busybox\nVOLUME /data\nRUN echo x > /data/f && ls /data\nRUN ls -A /data\n",
             probe="ls -A /data"),
    # -- COPY / ADD
    BuildRow("copy_files", "FROM busybox\nCOPY a.txt /a.txt\nCOPY a.txt /dest/\nCOPY dir /d\nCOPY dir/ /d2/\n"
             "COPY *.txt /g/\nCOPY a.txt dir /multi/\nCOPY a.txt relative\nWORKDIR /w\nCOPY a.txt .\n"
             "COPY run.sh /bin/\nCOPY [\"b.txt\", \"/json dest\"]\nCOPY /a.txt /abs\nCOPY a.txt /tmp\n",
             files=_f(**{"a.txt": "A\n", "b.txt": "B\n", "dir/x": "X\n", "dir/sub/y": "Y\n",
                         "run.sh": Mode("#!/bin/sh\necho run\n", 0o755)}),
             probe="cd / && " + STAT_MTIME + "/a.txt /dest/a.txt /d/x /d/sub/y /d2/x /g/a.txt /g/b.txt "
             "/multi/a.txt /multi/x /relative /w/a.txt /bin/run.sh '/json dest' /abs /tmp/a.txt && "
             + STAT + "/dest /d /d/sub /g /multi /multi/sub /w"),
    BuildRow("copy_chown", "FROM busybox\nCOPY --chown=1:2 a.txt /own\nCOPY --chown=daemon:bin a.txt /own2\n"
             "COPY --chown=daemon a.txt /own3\nCOPY --chown=7 dir /newparent/sub/dir\nARG U=5\n"
             "COPY --chown=$U:$U a.txt /own4\nCOPY --chown=4242 a.txt /own5\nUSER daemon\nCOPY a.txt /deep/er/a\n"
             "RUN mkdir -p /tmp/exist && chmod 700 /tmp/exist\nCOPY --chown=1:1 dir /tmp/exist/\n",
             files=_f(**{"a.txt": "A\n", "dir/x": "X\n"}),
             probe=STAT + "/own /own2 /own3 /newparent /newparent/sub /newparent/sub/dir /newparent/sub/dir/x "
             "/own4 /own5 /deep /deep/er /deep/er/a /tmp/exist /tmp/exist/x"),
    BuildRow("copy_symlinks", "FROM busybox\nCOPY d /d\nCOPY ln /x/\nCOPY ln/f /y\n"
             "RUN ln -s /tmp /evil && ln -s ../../../../etc /rel\nCOPY a.txt /evil/\nCOPY a.txt /rel/x\n",
             files=_f(**{"d/real": "R\n", "d/rel": Link("real"), "d/abs": Link("/etc/passwd"),
                         "d/up": Link("../../.."), "real/f": "F\n", "ln": Link("real"), "a.txt": "A\n"}),
             probe="readlink /d/rel /d/abs /d/up; cat /d/real /x/f /y /tmp/a.txt /etc/x"),
    BuildRow("copy_globs_dots_empty", "FROM busybox\nCOPY d* /g/\nCOPY ?.txt /q/\nCOPY [e]* /br/\n"
             "COPY d2/* /star/\nCOPY . /all/\nCOPY e /e\n",
             files=_f(**{"d1/f": "1\n", "d2/g": "2\n", "d2/sub/h": "3\n", "e.txt": "e\n", ".hidden": "h\n",
                         "sub/.h2": "h2\n", "e": DIR}),
             probe="cd / && find /g /q /br /star /all /e | sort"),
    BuildRow("copy_modes", "FROM busybox\nCOPY exec.sh ro /m/\n",
             files=_f(**{"exec.sh": Mode("#!/bin/sh\n", 0o700), "ro": Mode("r\n", 0o400)}),
             probe=STAT_MTIME + "/m/exec.sh /m/ro"),
    # dockerd unpacks ADD's archive chrooted in the destination: ../ and / names land inside it
    BuildRow("add_tar_names_clamped", "FROM busybox\nADD t.tar.gz /x/\n",
             files=_f(**{"t.tar.gz": TarGz((("ok.txt", "X\n"), ("../../up.txt", "U\n"), ("/abs.txt", "A\n"),
                                            ("./a/../b.txt", "B\n")))}),
             probe="cd / && find /x | sort && cat /x/up.txt /x/abs.txt && ls /up.txt /abs.txt 2>&1 || true"),
    BuildRow("add_local", "FROM busybox\nADD a.txt /a\nADD t.tar.gz /ex/\nADD t.tar.gz /ex2\nADD dir /addd\n"
             "COPY t.tar.gz /notex/\nADD fake.tar.gz /f/\nADD --chown=3:3 t.tar.gz /c/\n",
             files=_f(**{"a.txt": "A\n", "t.tar.gz": TarGz((("in/x", "X\n"), ("y", "Y\n"))), "dir/f": "F\n",
                         "fake.tar.gz": "not a tar\n"}),
             probe="cd / && " + STAT_MTIME + "/a /ex/in/x /ex/y /ex2/y /addd/f /f/fake.tar.gz /c/y && "
             + STAT + "/ex /ex/in /c /notex/t.tar.gz"),
    BuildRow("add_url", "FROM busybox\nADD {url}/remote.txt /r/\nADD {url}/remote.txt /named\n"
             "ADD --chown=1:2 {url}/dir/file.txt /\n",
             probe=STAT_MTIME + "/r/remote.txt /named /file.txt && " + STAT + "/r"),
    BuildRow("err_add_url_missing", "FROM busybox\nADD {url}/nosuch /x\n"),
    BuildRow("dockerignore", "FROM busybox\nCOPY . /ctx\n",
             files=_f(**{".dockerignore": "# comment\n*.log\n!keep.log\nsecret/\n**/*.tmp\nDockerfile\n/top.txt\n"
                         "d/*\n!d/keep\nnot/../x.txt\n  spaced.txt  \n",
                         "a.txt": "A\n", "x.log": "L\n", "keep.log": "K\n", "secret/s": "S\n",
                         "sub/deep/z.tmp": "T\n", "sub/ok": "O\n", "top.txt": "t", "a/top.txt": "t2",
                         "d/gone": "g", "d/keep": "k", "x.txt": "x", "spaced.txt": "s"}),
             probe="cd /ctx && find . | sort"),
    # -- config instructions
    BuildRow("workdir", "FROM busybox\nWORKDIR /a\nWORKDIR b\nENV D=/dd\nWORKDIR $D/e\nWORKDIR ..\nRUN pwd\n"
             "WORKDIR /a/b\nUSER daemon\nWORKDIR /wd\n",
             probe=STAT + "/a /a/b /dd /dd/e /wd; pwd"),
    BuildRow("cmd_entrypoint", "FROM busybox\nCMD [\"a\", \"b\"]\nENTRYPOINT [\"/bin/echo\"]\nCMD echo shell form\n"
             "ENTRYPOINT echo ep shell\nCMD ['a', 'b']\nENTRYPOINT [\"a\\\"q\", \"\\u0041\"]\n"),
    BuildRow("entrypoint_resets_inherited_cmd", "FROM busybox\nENTRYPOINT [\"/bin/echo\"]\n"),
    BuildRow("cmd_empty_forms", "FROM busybox\nCMD []\nENTRYPOINT []\nCMD\n"),
    BuildRow("misc_config", "FROM busybox\nMAINTAINER Some One <a@b>\nLABEL a=b \"c d\"=e\nLABEL f g h\n"
             "EXPOSE 80 443/udp 8000-8001/tcp\nENV P=9000 V=/vol\nEXPOSE $P\nVOLUME /v\n"
             "VOLUME [\"/x\", \"/y\"]\nVOLUME $V\nUSER daemon\nUSER 1:2\nSTOPSIGNAL SIGKILL\n"
             "HEALTHCHECK --interval=5s --timeout=3s --start-period=1s --retries=2 CMD true\n"
             "SHELL [\"/bin/sh\", \"-ec\"]\nRUN echo after shell\nLABEL last=1\n",
             args=("--label", "cli=1", "--label", "a=fromcli")),
    BuildRow("healthcheck_forms", "FROM busybox\nHEALTHCHECK CMD [\"true\"]\nHEALTHCHECK --interval=1m30s CMD echo "
             "shell form\nHEALTHCHECK NONE\n"),
    BuildRow("volume_json_word_in_shell_form", "FROM busybox\nVOLUME /v [\"/w\"]\nRUN true\n"),
    BuildRow("volume_relative", "FROM busybox\nWORKDIR /w\nVOLUME rel\nRUN ls -d /rel\n"),
    BuildRow("label_cli_only", "FROM busybox\n", args=("--label", "x=y")),
    BuildRow("from_only", "FROM busybox\n",
             expect=build_differs("the image is the base itself, and the bases differ: dockerd's busybox "
                                  "was imported (every config field written), ketchd's is its embedded "
                                  "image (Cmd and Env alone)", "image")),
    BuildRow("from_scratch", "FROM scratch\nCOPY a.txt /\nCMD [\"/a.txt\"]\n", files=_f(**{"a.txt": "A\n"})),
    BuildRow("parser_forms", "# escape=`\nfrom busybox\n# c1\nenv P=c:\\path\nrun echo a `\n# inner\n\n  b `\n  c\n"
             "Run echo `\n"),
    BuildRow("onbuild_parent", "FROM busybox\nONBUILD RUN echo trig > /trig\nONBUILD ENV T=1\n"
             "ONBUILD COPY trig.txt /trig.txt\n", files=_f(**{"trig.txt": "T\n"})),
    BuildRow("onbuild_child", "FROM diff-build/onbuild_parent\nRUN cat /trig /trig.txt\n",
             files=_f(**{"trig.txt": "T2\n"}), parent="onbuild_parent"),
    # -- multi-stage
    BuildRow("multistage", "ARG X=1\nFROM busybox AS a\nRUN echo a > /a\n\nFROM busybox AS b\nRUN echo b > /b\n"
             "FROM busybox as unused\nRUN echo unused\nFROM a\nCOPY --from=b /b /b\nCOPY --from=0 /a /a0\n"
             "COPY --from=busybox /bin/true /t\nFROM busybox AS Upper\nFROM upper\nCOPY --from=1 /b /b\n",
             probe="cat /b", expect=build_differs(STAGES_NEEDED, "stream")),
    BuildRow("multistage_target", "FROM busybox AS a\nRUN echo a > /a\nFROM busybox AS b\nRUN echo b > /b\n"
             "FROM a AS c\nRUN echo c\n", args=("--target", "b"), expect=build_differs(STAGES_NEEDED, "stream")),
    # -- cache
    BuildRow("cache", "FROM busybox\nENV E=cache\nCOPY a.txt /a\nRUN echo ran\nCOPY b.txt /b\nCMD [\"x\"]\n",
             files=_f(**{"a.txt": "A\n", "b.txt": "B\n"}),
             after=(Rebuild("unchanged"),
                    Rebuild("b.txt changed", files=(("b.txt", "B2\n"),)),
                    Rebuild("a.txt's mtime alone changed", mtimes=(("a.txt", MTIME + 100),)),
                    Rebuild("a.txt's mode changed", modes=(("a.txt", 0o600),)),
                    Rebuild("--no-cache", args=("--no-cache",)),
                    Rebuild("an undeclared --build-arg", args=("--build-arg", "Q=1")),
                    Rebuild("--label", args=("--label", "l=1")))),
    BuildRow("cache_arg", "FROM busybox\nARG A\nRUN echo a=$A\nRUN echo two\n", args=("--build-arg", "A=1"),
             after=(Rebuild("same value"), Rebuild("another value", args=("--build-arg", "A=2")),
                    Rebuild("none", args=()))),
    BuildRow("cache_dirs_and_ignore", "FROM busybox\nCOPY d /d\nCOPY . /all\nRUN ls -R /d > /list\n",
             files=_f(**{".dockerignore": "ignored.txt\n", "d/sub/f": "F\n", "d/g": "G\n", "ignored.txt": "I\n"}),
             after=(Rebuild("an ignored file changed", files=(("ignored.txt", "I2\n"),)),
                    Rebuild("a file deep in a copied directory changed", files=(("d/sub/f", "F2\n"),)),
                    Rebuild("a file added to it", files=(("d/new", "N\n"),)),
                    Rebuild("a directory's mtime alone changed", mtimes=(("d/sub", MTIME + 50),)),
                    Rebuild("the Dockerfile's last line changed",
                            files=(("Dockerfile", "FROM busybox\nCOPY d /d\nCOPY . /all\nRUN ls -R /d > /l2\n"),)))),
    BuildRow("cache_env_from_arg", "FROM busybox\nARG V=1\nENV E=$V\nRUN echo e=$E\nLABEL v=$V\n",
             after=(Rebuild("the same"), Rebuild("another value", args=("--build-arg", "V=2")),
                    Rebuild("the default again", args=()))),
    # -- client forms
    BuildRow("quiet", "FROM busybox\nRUN echo loud\n", args=("-q",)),
    BuildRow("quiet_fail", "FROM busybox\nRUN echo loud; exit 2\n", args=("-q",)),
    BuildRow("stdin_dockerfile", None, stdin="FROM busybox\nENV S=stdin\n", context="-"),
    BuildRow("stdin_dockerfile_with_context", None, files=_f(f="F\n"), args=("-f", "-"),
             stdin="FROM busybox\nCOPY f /f\n"),  # the docker client's tar ends with no trailer
    BuildRow("dockerfile_in_subdir", None, files=_f(**{"f": "F\n", "sub/My.Dockerfile": "FROM busybox\nCOPY f /f2\n"}),
             args=("-f", "{ctx}/sub/My.Dockerfile")),
    BuildRow("tags", "FROM busybox\nENV T=1\n", args=("-t", "diff-build/t1", "-t", "diff-build/t2:v2")),
    # -- errors: before any output (HTTP 400) and during the build
    BuildRow("err_unknown_instruction", "FROM busybox\nRUNN echo hi\n"),
    BuildRow("err_unknown_flag", "FROM busybox\nCOPY --foo=1 a /b\n"),
    BuildRow("err_onbuild_onbuild", "FROM busybox\nONBUILD ONBUILD RUN x\n"),
    BuildRow("err_onbuild_from", "FROM busybox\nonbuild from busybox\n"),
    BuildRow("err_no_from", "RUN echo hi\n"),
    BuildRow("err_empty", ""),
    BuildRow("err_comments_only", "# nothing\n\n"),
    BuildRow("err_env_no_value", "FROM busybox\nENV A\n"),
    BuildRow("err_env_blank_name", "FROM busybox\nENV =x\n"),
    BuildRow("err_from_args", "FROM busybox AS a AS b\n"),
    BuildRow("err_stage_name", "FROM busybox AS 1bad\n"),
    BuildRow("err_stage_name_twice", "FROM busybox AS a\nFROM busybox AS a\n"),
    BuildRow("err_healthcheck_retries", "FROM busybox\nHEALTHCHECK --retries=0 CMD true\n",
             expect=build_differs("by design (README, Dockerfile syntax): ketch takes --retries=0 as current "
                                  "buildkit does; dockerd 20.10 refused it ('--retries must be at least 1 "
                                  "(not 0)')", "stream", "stderr", "exit", "image")),
    BuildRow("err_shell_not_json", "FROM busybox\nSHELL /bin/sh -c\n"),
    BuildRow("err_label_no_value", "FROM busybox\nLABEL a\n"),
    BuildRow("err_escape_twice", "# escape=`\n# escape=\\\nFROM busybox\n"),
    BuildRow("err_bad_target", "FROM busybox AS a\nRUN echo a\n", args=("--target", "nosuch")),
    BuildRow("err_from_bad_reference", "FROM Busy_Box\n"),
    BuildRow("err_copy_from_bad_reference", "FROM busybox\nCOPY --from=Up/x /a /a\n"),
    BuildRow("err_from_blank", "ARG B\nFROM $B\n"),
    BuildRow("err_from_scratch_only", "FROM scratch\n"),
    BuildRow("err_copy_missing", "FROM busybox\nCOPY nosuch /x\n", files=_f(a="A")),
    BuildRow("err_copy_glob_nothing", "FROM busybox\nCOPY *.nomatch /x/\n", files=_f(a="A")),
    BuildRow("err_squash_without_experimental", "FROM busybox\n", args=("--squash",)),
    BuildRow("err_copy_outside", "FROM busybox\nCOPY ../a.txt /up\n", files=_f(**{"a.txt": "A\n"})),
    BuildRow("err_copy_symlink_outside", "FROM busybox\nCOPY link /link\n", files=_f(link=Link("/etc/hostname"))),
    BuildRow("err_copy_excluded", "FROM busybox\nCOPY x.log /x\n", files=_f(**{".dockerignore": "x.log\n", "x.log": "L"})),
    BuildRow("err_copy_many_to_file", "FROM busybox\nCOPY a b /x\n", files=_f(a="A", b="B")),
    BuildRow("err_chown_unknown_user", "FROM busybox\nCOPY --chown=nosuch a /x\n", files=_f(a="A")),
    BuildRow("err_chown_unknown_group", "FROM busybox\nCOPY --chown=root:nosuch a /x\n", files=_f(a="A")),
    BuildRow("err_copy_from_current", "FROM busybox\nCOPY --from=0 /bin/true /t\n"),
    BuildRow("err_copy_from_later", "FROM busybox AS first\nCOPY --from=1 /bin/true /t\nFROM busybox\n",
             args=("--target", "first")),
    BuildRow("err_expose", "FROM busybox\nEXPOSE 80/xyz\n"),
    BuildRow("err_stopsignal", "FROM busybox\nSTOPSIGNAL NOSUCH\n"),
    BuildRow("err_run_fails", "FROM busybox\nRUN echo before\nRUN echo out; exit 3\nRUN echo never\n"),
    BuildRow("err_run_exec_fails", "FROM busybox\nRUN [\"sh\", \"-c\", \"exit 4\"]\n"),
    BuildRow("err_run_empty", "FROM busybox\nRUN\n"),
    BuildRow("err_user_unknown", "FROM busybox\nUSER nosuch\nRUN id\n",
             expect=pending("issue 12: a RUN whose container cannot start (USER nosuch) leaves it in state "
                            "'created' on dockerd 20.10 (rm keeps a failed step's container); ketchd removes it")),
    BuildRow("err_run_fails_force_rm", "FROM busybox\nRUN echo out; exit 5\n", args=("--force-rm",)),
    BuildRow("run_rm_false", "FROM busybox\nENV E=1\nRUN echo kept\n", args=("--rm=false",),
             expect=build_differs("by design: ketch runs no container for a step that runs nothing (ENV, "
                                  "CMD, ...: the 'Running in' id names none), so --rm=false keeps only RUN's; "
                                  "dockerd 20.10 also keeps the never-started 'created' one of each such step",
                                  "containers")),
    # -- what ketch takes beyond dockerd 20.10's classic builder (BuildKit's syntax)
    BuildRow("beyond_heredoc", "FROM busybox\nRUN <<EOF\necho hi > /h\nEOF\nCOPY <<EOF /c\nbody\nEOF\n",
             expect=build_differs(BUILDKIT_SYNTAX, "stream", "stderr", "exit", "image")),
    BuildRow("beyond_copy_flags", "FROM busybox\nCOPY --chmod=700 --link a /a\n", files=_f(a="A"),
             expect=build_differs(BUILDKIT_SYNTAX, "stream", "stderr", "exit", "image")),
    BuildRow("beyond_run_flags", "FROM busybox\nRUN --network=none --mount=type=tmpfs,target=/t true\n",
             expect=build_differs(BUILDKIT_SYNTAX, "stream", "stderr", "exit", "image")),
)
