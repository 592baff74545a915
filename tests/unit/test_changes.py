"""ketch.build.changes against `docker import --change`.

Every expected config below is what dockerd 20.10.24 stored for
`docker import -c CHANGE... empty.tar` (seen with `docker image inspect
--format '{{json .Config}}'`, which omits empty fields), and every error text is
what it answered. The import starts from an empty config, as here.
"""

import pytest

from ketch.build.changes import apply
from ketch.errors import InvalidArgument


# changes -> the image config dockerd stored
APPLIED = [
    ([], {}),
    (["CMD echo hi"], {"Cmd": ["/bin/sh", "-c", "echo hi"]}),
    (['CMD ["echo","hi"]'], {"Cmd": ["echo", "hi"]}),
    (["cmd [echo"], {"Cmd": ["/bin/sh", "-c", "[echo"]}),
    (["  CMD   echo   hi  "], {"Cmd": ["/bin/sh", "-c", "echo   hi"]}),
    (["ENTRYPOINT /bin/sh -c x"], {"Entrypoint": ["/bin/sh", "-c", "/bin/sh -c x"]}),
    (['ENTRYPOINT ["/bin/app", "--flag"]'], {"Entrypoint": ["/bin/app", "--flag"]}),
    (['ENV A=1 B="two words" C=d\\ e'], {"Env": ["A=1", "B=two words", "C=d e"]}),
    (["ENV A one two"], {"Env": ["A=one two"]}),
    (["EXPOSE 80 443/udp"], {"ExposedPorts": {"80/tcp": {}, "443/udp": {}}}),
    (["EXPOSE 80/sctp"], {"ExposedPorts": {"80/sctp": {}}}),
    (['LABEL a=b "c d"=e', "LABEL f g"], {"Labels": {"a": "b", "c d": "e", "f": "g"}}),
    (["VOLUME /data", 'VOLUME ["/a","/b"]', "VOLUME /c /d"],
     {"Volumes": {"/data": {}, "/a": {}, "/b": {}, "/c": {}, "/d": {}}}),
    (['VOLUME ["/a", "/b"]'], {"Volumes": {"/a": {}, "/b": {}}}),
    (["USER nobody", "WORKDIR /app"], {"User": "nobody", "WorkingDir": "/app"}),
    (["WORKDIR /a/../b/"], {"WorkingDir": "/a/../b/"}),
    (["ONBUILD RUN x"], {"OnBuild": ["RUN x"]}),
    # moby's validCommitCommands has held stopsignal since 23.0 (20.10 refused it)
    (["STOPSIGNAL SIGKILL"], {"StopSignal": "SIGKILL"}),
    (["ENV A=1", "ENV B=2", "ENV A=3"], {"Env": ["A=3", "B=2"]}),
    (["ENV A=1", "ENV B=$A", "ENV C=${A}x"], {"Env": ["A=1", "B=1", "C=1x"]}),
    (["ENV A='x y' B=\"$HOME\" C='$HOME'"], {"Env": ["A=x y", "B=", "C=$HOME"]}),
    (["ENV A=1", "USER $A", "WORKDIR /w/$A"], {"Env": ["A=1"], "User": "1", "WorkingDir": "/w/1"}),
    (['ENV A "x y"'], {"Env": ["A=x y"]}),
    (["EXPOSE 8000-8002"], {"ExposedPorts": {"8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {}}}),
    (["EXPOSE 80/TCP"], {"ExposedPorts": {"80/tcp": {}}}),
    (["USER nobody", "WORKDIR /app", "WORKDIR sub"], {"User": "nobody", "WorkingDir": "/app/sub"}),
    (["WORKDIR rel"], {"WorkingDir": "/rel"}),
    (["HEALTHCHECK CMD true"], {"Healthcheck": {"Test": ["CMD-SHELL", "true"]}}),
]


@pytest.mark.parametrize("changes,config", APPLIED)
def test_apply(changes, config):
    assert apply({}, changes) == config


# changes -> dockerd's error text
REFUSED = [
    (["FOO bar"], "foo is not a valid change command"),
    (["foo bar"], "foo is not a valid change command"),
    (["RUN echo"], "run is not a valid change command"),
    (["ENV"], "ENV requires at least one argument"),
    (["ENV =x"], "ENV names can not be blank"),
    (["ENV a=1 b"], 'Syntax error - can\'t find = in "b". Must be of the form: name=value'),
    (["EXPOSE abc"], "Invalid containerPort: abc"),
    (['CMD ["echo", 1]'],
                 "when using JSON array syntax, arrays must be comprised of strings only"),
    (["VOLUME"], "VOLUME requires at least one argument"),
    (["LABEL a"], "LABEL must have two arguments"),
    (["USER"], "USER requires exactly one argument"),
]


@pytest.mark.parametrize("changes,message", REFUSED)
def test_refused(changes, message):
    with pytest.raises(InvalidArgument) as exc:
        apply({}, changes)
    assert str(exc.value) == message


@pytest.mark.parametrize("base,changes,expected", [
    ({"Env": ["PATH=/bin"], "Cmd": ["sh"]}, ["ENV X=1"], {"Env": ["PATH=/bin", "X=1"], "Cmd": ["sh"]}),
    ({"Labels": {"a": "1"}}, ["LABEL b=2"], {"Labels": {"a": "1", "b": "2"}}),
    ({"ExposedPorts": {"22/tcp": {}}}, ["EXPOSE 80"], {"ExposedPorts": {"22/tcp": {}, "80/tcp": {}}}),
    # moby's dispatchEntrypoint drops the CMD unless a CMD came earlier in the same changes
    ({"Cmd": ["sh"]}, ["ENTRYPOINT ['x']"], {"Entrypoint": ["/bin/sh", "-c", "['x']"]}),
    ({"Cmd": ["sh"]}, ["CMD y", "ENTRYPOINT x"],
     {"Cmd": ["/bin/sh", "-c", "y"], "Entrypoint": ["/bin/sh", "-c", "x"]}),
    ({"Env": ["A=1", "B=2"]}, ["ENV A=3"], {"Env": ["A=3", "B=2"]}),
    ({"Env": ["A=1"]}, ["LABEL v=$A", "USER u$A"],
     {"Env": ["A=1"], "Labels": {"v": "1"}, "User": "u1"}),
    ({"WorkingDir": "/srv"}, ["WORKDIR ../x/./y/"], {"WorkingDir": "/x/y"}),
    ({"Shell": ["/bin/bash", "-xc"]}, ["CMD run"],
     {"Shell": ["/bin/bash", "-xc"], "Cmd": ["/bin/bash", "-xc", "run"]}),
    ({"Cmd": ["a"], "ArgsEscaped": True}, ["CMD b"], {"Cmd": ["/bin/sh", "-c", "b"]}),
    ({"Healthcheck": {"Test": ["CMD", "x"]}}, ["HEALTHCHECK NONE"],
     {"Healthcheck": {"Test": ["NONE"]}}),
    ({"OnBuild": ["RUN a"], "Volumes": {"/v": {}}}, ["ONBUILD RUN b", "VOLUME /w"],
     {"OnBuild": ["RUN a", "RUN b"], "Volumes": {"/v": {}, "/w": {}}}),
])
def test_apply_extends_the_base(base, changes, expected):
    snapshot = {k: (v.copy() if hasattr(v, "copy") else v) for k, v in base.items()}
    assert apply(base, changes) == expected
    assert base == snapshot  # the caller's config is not modified


# The cases below follow moby's BuildFromConfig and dispatchers, buildkit's parser and
# instructions, and go-connections' nat, read from their sources; they were not replayed
# against a daemon as the tables above were.

SECONDS = 1_000_000_000

FROM_SOURCES = [
    (['HEALTHCHECK CMD ["curl", "-f", "x"]'],
     {"Healthcheck": {"Test": ["CMD", "curl", "-f", "x"]}}),
    (["HEALTHCHECK --interval=5s --timeout=1m30s --start-period=1.5s --start-interval=100ms "
      "--retries=3 CMD x"],
     {"Healthcheck": {"Test": ["CMD-SHELL", "x"], "Interval": 5 * SECONDS, "Timeout": 90 * SECONDS,
                      "StartPeriod": 1_500_000_000, "StartInterval": 100_000_000, "Retries": 3}}),
    (["healthcheck none"], {"Healthcheck": {"Test": ["NONE"]}}),
    (["HEALTHCHECK --foo NONE"], {"Healthcheck": {"Test": ["NONE"]}}),  # NONE reads no flags
    (["HEALTHCHECK --interval=0s --retries=0 cmd x y"],
     {"Healthcheck": {"Test": ["CMD-SHELL", "x y"]}}),
    (["EXPOSE 8080:80 127.0.0.1:8081:81/udp [::1]:8082:82 1-2-3"],
     {"ExposedPorts": {"80/tcp": {}, "81/udp": {}, "82/tcp": {}, "1/tcp": {}, "2/tcp": {}}}),
    (["ENV P=\"80 443/udp\"", "EXPOSE $P"],
     {"Env": ["P=80 443/udp"], "ExposedPorts": {"80/tcp": {}, "443/udp": {}}}),
    (["ENV A=1 \\", "  B=2"], {"Env": ["A=1", "B=2"]}),
    (["# a comment", "USER x"], {"User": "x"}),
    (["USER a\nWORKDIR /b"], {"User": "a", "WorkingDir": "/b"}),
    (["ONBUILD   RUN  x  "], {"OnBuild": ["RUN  x  "]}),
    (["ENV S=SIGINT", "STOPSIGNAL $S"], {"Env": ["S=SIGINT"], "StopSignal": "SIGINT"}),
    (["STOPSIGNAL rtmin+3"], {"StopSignal": "rtmin+3"}),
    (["STOPSIGNAL 9"], {"StopSignal": "9"}),
    (["ENV D=/d", 'VOLUME ["$D", "/e"]'], {"Env": ["D=/d"], "Volumes": {"/d": {}, "/e": {}}}),
    (["ENV A=1 B=$A"], {"Env": ["A=1", "B="]}),  # an ENV sees the Env of before it
    (["ENV K=x", "ENV $K=1"], {"Env": ["K=x", "x=1"]}),
    (['LABEL a "b c"'], {"Labels": {"a": "b c"}}),
    (["CMD []"], {"Cmd": []}),
    (["ENV A=\\$B C=${B:-dflt}"], {"Env": ["A=$B", "C=dflt"]}),
]


@pytest.mark.parametrize("changes,config", FROM_SOURCES)
def test_apply_as_the_sources_do(changes, config):
    assert apply({}, changes) == config


REFUSED_FROM_SOURCES = [
    (["HEALTHCHECK"], "HEALTHCHECK requires at least one argument"),
    (["HEALTHCHECK CMD"], "Missing command after HEALTHCHECK CMD"),
    (["HEALTHCHECK NONE x"], "HEALTHCHECK NONE takes no arguments"),
    (["HEALTHCHECK FOO x"], 'Unknown type "FOO" in HEALTHCHECK (try CMD)'),
    (["HEALTHCHECK --interval=1us CMD x"], 'Interval "interval" cannot be less than 1ms'),
    (["HEALTHCHECK --interval=5 CMD x"], 'time: missing unit in duration "5"'),
    (["HEALTHCHECK --timeout=abc CMD x"], 'time: invalid duration "abc"'),
    (["HEALTHCHECK --timeout=5x CMD x"], 'time: unknown unit "x" in duration "5x"'),
    (["HEALTHCHECK --retries=-1 CMD x"], "--retries cannot be negative (-1)"),
    (["HEALTHCHECK --retries=x CMD x"], 'strconv.ParseInt: parsing "x": invalid syntax'),
    (["HEALTHCHECK --foo=1 CMD x"], "Unknown flag: foo"),
    (["HEALTHCHECK --interval CMD x"], "Missing a value on flag: interval"),
    (["HEALTHCHECK --interval=1s --interval=2s CMD x"], "Duplicate flag specified: interval"),
    (["ENV --x=1 A=1"], "Unknown flag: x"),
    (["LABEL"], "LABEL requires at least one argument"),
    (["ENV A"], "ENV must have two arguments"),
    (["EXPOSE"], "EXPOSE requires at least one argument"),
    (["EXPOSE 80/foo"], "Invalid proto: foo"),
    (["EXPOSE 70000"], "Invalid containerPort: 70000"),
    (["EXPOSE 8002-8000"], "Invalid containerPort: 8002-8000"),
    (["EXPOSE :"], "No port specified: :<empty>"),
    (["EXPOSE 80-81:90-95"],
     "Invalid ranges specified for container and host Ports: 90-95 and 80-81"),
    (["EXPOSE x:80:80"], "Invalid ip address: x"),
    (["WORKDIR"], "WORKDIR requires exactly one argument"),
    (["WORKDIR $UNSET"], "cannot normalize nothing"),
    (["STOPSIGNAL"], "STOPSIGNAL requires exactly one argument"),
    (["STOPSIGNAL FOO"], "Invalid signal: FOO"),
    (["STOPSIGNAL 0"], "Invalid signal: 0"),
    (["ONBUILD"], "ONBUILD requires at least one argument"),
    (["ONBUILD ONBUILD RUN x"], "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    (["ONBUILD FROM x"], "FROM isn't allowed as an ONBUILD trigger"),
    (['VOLUME [""]'], "VOLUME specified can not be an empty string"),
    (["VOLUME $UNSET"], "VOLUME specified can not be an empty string"),
    (["USER ${A"], 'failed to process "${A": unsupported modifier (\ufffd) in substitution'),
    (["ENV A=${B:?needed}"], 'failed to process "${B:?needed}": B: needed'),
    ([""], "file with no instructions"),
    (["# only a comment"], "file with no instructions"),
    # every line is parsed before any is checked, and all are checked before any applies
    (["FOO x", "ENV a=1 b"],
     'Syntax error - can\'t find = in "b". Must be of the form: name=value'),
    (["ENV =x", "FOO y"], "foo is not a valid change command"),
    (["USER $", "WORKDIR"], "WORKDIR requires exactly one argument"),
]


@pytest.mark.parametrize("changes,message", REFUSED_FROM_SOURCES)
def test_refused_as_the_sources_do(changes, message):
    with pytest.raises(InvalidArgument) as exc:
        apply({}, changes)
    assert str(exc.value) == message


def test_escape_directive_applies_to_changes_too():
    # BuildFromConfig parses the joined changes as a Dockerfile: a first "# escape=" line
    # is a parser directive, and dispatch expands with that token
    assert apply({}, ["# escape=`", "ENV A=x` y B=c:\\d `", "  C=1"]) == \
        {"Env": ["A=x y", "B=c:\\d", "C=1"]}
