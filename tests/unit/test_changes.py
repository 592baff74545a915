"""ketch.build.changes against `docker import --change`.

Every expected config below is what dockerd 20.10.24 stored for
`docker import -c CHANGE... empty.tar` (seen with `docker image inspect
--format '{{json .Config}}'`, which omits empty fields), and every error text is
what it answered. The import starts from an empty config, as here.
"""

import pytest

from ketch.build.changes import apply
from ketch.errors import InvalidArgument


def bug(reason):
    return pytest.mark.xfail(strict=True, reason=f"bug: {reason}")


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
    pytest.param(["ENV A=1", "ENV B=2", "ENV A=3"], {"Env": ["A=3", "B=2"]},
                 marks=bug("ENV replaces an existing variable in place (dispatchEnv); ketch "
                           "removes it and appends, giving B=2, A=3")),
    pytest.param(["ENV A=1", "ENV B=$A", "ENV C=${A}x"], {"Env": ["A=1", "B=1", "C=1x"]},
                 marks=bug("no Dockerfile word expansion: $A stays literal")),
    pytest.param(["ENV A='x y' B=\"$HOME\" C='$HOME'"], {"Env": ["A=x y", "B=", "C=$HOME"]},
                 marks=bug("no word expansion inside double quotes ($HOME unset -> empty)")),
    pytest.param(["ENV A=1", "USER $A", "WORKDIR /w/$A"],
                 {"Env": ["A=1"], "User": "1", "WorkingDir": "/w/1"},
                 marks=bug("USER and WORKDIR are word-expanded against the config's Env")),
    pytest.param(['ENV A "x y"'], {"Env": ["A=x y"]},
                 marks=bug("the legacy form's value goes through quote removal; ketch keeps the "
                           "quotes (A=\"x y\")")),
    pytest.param(["EXPOSE 8000-8002"],
                 {"ExposedPorts": {"8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {}}},
                 marks=bug("a port range expands to one port per number (nat.ParsePortSpecs); "
                           "ketch stores the key '8000-8002/tcp'")),
    pytest.param(["EXPOSE 80/TCP"], {"ExposedPorts": {"80/tcp": {}}},
                 marks=bug("the protocol is lower-cased; ketch stores '80/TCP'")),
    pytest.param(["USER nobody", "WORKDIR /app", "WORKDIR sub"],
                 {"User": "nobody", "WorkingDir": "/app/sub"},
                 marks=bug("a relative WORKDIR is joined to the current one")),
    pytest.param(["WORKDIR rel"], {"WorkingDir": "/rel"},
                 marks=bug("a relative WORKDIR is joined to '/' when none is set")),
    pytest.param(["HEALTHCHECK CMD true"], {"Healthcheck": {"Test": ["CMD-SHELL", "true"]}},
                 marks=bug("HEALTHCHECK is a valid change; ketch refuses it")),
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
    pytest.param(["EXPOSE abc"], "Invalid containerPort: abc",
                 marks=bug("docker's text starts with a capital I")),
    pytest.param(['CMD ["echo", 1]'],
                 "when using JSON array syntax, arrays must be comprised of strings only",
                 marks=bug("a JSON array with a non-string is an error, ketch runs it as a "
                           "shell command")),
    pytest.param(["VOLUME"], "VOLUME requires at least one argument",
                 marks=bug("VOLUME without arguments is accepted")),
    pytest.param(["LABEL a"], "LABEL must have two arguments",
                 marks=bug("LABEL with a bare key is accepted as a=''")),
    pytest.param(["USER"], "USER requires exactly one argument",
                 marks=bug("USER without arguments sets User to ''")),
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
    ({"Cmd": ["sh"]}, ["ENTRYPOINT ['x']"], {"Cmd": ["sh"], "Entrypoint": ["/bin/sh", "-c", "['x']"]}),
])
def test_apply_extends_the_base(base, changes, expected):
    snapshot = {k: (v.copy() if hasattr(v, "copy") else v) for k, v in base.items()}
    assert apply(base, changes) == expected
    assert base == snapshot  # the caller's config is not modified
