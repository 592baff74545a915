"""ketch.cli.flags against pflag/cobra semantics and the docker 28.2.2 client.

Every error text, exit code and help screen expected here was printed by the
real client (with "docker" replaced by "ketch"); the grammar cases follow
pflag's parseArgs.
"""

import pytest

from ketch.cli.flags import Command, FlagSpec, UsageError, parse, render_help

RUN = Command(
    "run", "ketch run [OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create and run a new container from an image",
    [
        FlagSpec("attach", "a", "list"),
        FlagSpec("cpu-shares", "c", "int"),
        FlagSpec("cpus", None, "float"),
        FlagSpec("detach", "d", "bool"),
        FlagSpec("env", "e", "list"),
        FlagSpec("health-interval", None, "duration"),
        FlagSpec("hostname", "h", "string"),
        FlagSpec("interactive", "i", "bool"),
        FlagSpec("memory", "m", "bytes"),
        FlagSpec("name", None, "string"),
        FlagSpec("publish", "p", "list"),
        FlagSpec("rm", None, "bool"),
        FlagSpec("sig-proxy", None, "bool", default=True),
        FlagSpec("stop-timeout", None, "int"),
        FlagSpec("sysctl", None, "map"),
        FlagSpec("tty", "t", "bool"),
        FlagSpec("dns-search", None, "slice"),
    ],
    interspersed=False, min_args=1,
    aliases=["ketch container run", "ketch run"],
)

RM = Command(
    "rm", "ketch rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers",
    [
        FlagSpec("force", "f", "bool", help="Force the removal of a running container (uses SIGKILL)"),
        FlagSpec("link", "l", "bool", help="Remove the specified link"),
        FlagSpec("volumes", "v", "bool", help="Remove anonymous volumes associated with the container"),
    ],
    min_args=1, aliases=["ketch container rm", "ketch container remove", "ketch rm"],
)

FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about "
    "formatting output with templates")

PS = Command(
    "ps", "ketch ps [OPTIONS]", "List containers",
    [
        FlagSpec("all", "a", "bool", help="Show all containers (default shows just running)"),
        FlagSpec("filter", "f", "list", help="Filter output based on conditions provided",
                 metavar="filter"),
        FlagSpec("format", None, "string", help=FORMAT_HELP),
        FlagSpec("last", "n", "int", default=-1,
                 help="Show n last created containers (includes all states)"),
        FlagSpec("latest", "l", "bool", help="Show the latest created container (includes all states)"),
        FlagSpec("no-trunc", None, "bool", help="Don't truncate output"),
        FlagSpec("quiet", "q", "bool", help="Only display container IDs"),
        FlagSpec("size", "s", "bool", help="Display total file sizes"),
    ],
    max_args=0,
    aliases=["ketch container ls", "ketch container list", "ketch container ps", "ketch ps"],
)

LOGS = Command(
    "logs", "ketch logs [OPTIONS] CONTAINER", "Fetch the logs of a container",
    [
        FlagSpec("details", None, "bool", help="Show extra details provided to logs"),
        FlagSpec("follow", "f", "bool", help="Follow log output"),
        FlagSpec("since", None, "string", help='Show logs since timestamp (e.g. '
                 '"2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)'),
        FlagSpec("tail", "n", "string", default="all",
                 help="Number of lines to show from the end of the logs"),
        FlagSpec("timestamps", "t", "bool", help="Show timestamps"),
        FlagSpec("until", None, "string", help='Show logs before a timestamp (e.g. '
                 '"2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)'),
    ],
    min_args=1, max_args=1, aliases=["ketch container logs", "ketch logs"],
)

STOP = Command(
    "stop", "ketch stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
    [
        FlagSpec("signal", "s", "string", help="Signal to send to the container"),
        FlagSpec("timeout", "t", "int", help="Seconds to wait before killing the container"),
        FlagSpec("time", None, "int", deprecated="use --timeout instead",
                 help="Seconds to wait before killing the container"),
    ],
    min_args=1, aliases=["ketch container stop", "ketch stop"],
)

PAUSE = Command(
    "pause", "ketch pause CONTAINER [CONTAINER...]",
    "Pause all processes within one or more containers",
    min_args=1, aliases=["ketch container pause", "ketch pause"],
)

EXEC = Command(
    "exec", "ketch exec [OPTIONS] CONTAINER COMMAND [ARG...]",
    "Execute a command in a running container",
    [
        FlagSpec("detach", "d", "bool", help="Detached mode: run command in the background"),
        FlagSpec("detach-keys", None, "string", help="Override the key sequence for detaching a container"),
        FlagSpec("env", "e", "list", help="Set environment variables"),
        FlagSpec("env-file", None, "list", help="Read in a file of environment variables"),
        FlagSpec("interactive", "i", "bool", help="Keep STDIN open even if not attached"),
        FlagSpec("privileged", None, "bool", help="Give extended privileges to the command"),
        FlagSpec("tty", "t", "bool", help="Allocate a pseudo-TTY"),
        FlagSpec("user", "u", "string", help='Username or UID (format: "<name|uid>[:<group|gid>]")'),
        FlagSpec("workdir", "w", "string", help="Working directory inside the container"),
    ],
    interspersed=False, min_args=2, aliases=["ketch container exec", "ketch exec"],
)

LOGOUT = Command("logout", "ketch logout [SERVER]", "Log out from a registry", max_args=1)
COMMIT = Command("commit", "ketch commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
                 "Create a new image from a container's changes", min_args=1, max_args=2)
TAG = Command("tag", "ketch tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
              "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", min_args=2, max_args=2)


def changed(values):
    return {k: values[k] for k in values.changed}


# (command, argv, flags that were set, positionals)
PARSES = [
    (RUN, ["-itd", "busybox"], {"interactive": True, "tty": True, "detach": True}, ["busybox"]),
    (RUN, ["-it", "busybox", "sh"], {"interactive": True, "tty": True}, ["busybox", "sh"]),
    (RUN, ["-ite", "X=1", "busybox"], {"interactive": True, "tty": True, "env": ["X=1"]}, ["busybox"]),
    (RUN, ["-ePATH=x", "-e=FOO", "-e", "A=b", "img"], {"env": ["PATH=x", "FOO", "A=b"]}, ["img"]),
    (RUN, ["-itp", "80:80", "-p80:81", "--publish=82:82", "img"],
     {"interactive": True, "tty": True, "publish": ["80:80", "80:81", "82:82"]}, ["img"]),
    (RUN, ["-d", "-p", "8080:80", "--name", "web", "img"],
     {"detach": True, "publish": ["8080:80"], "name": "web"}, ["img"]),
    # a non-interspersed command stops at the first positional
    (RUN, ["busybox", "sh", "-c", "echo hi"], {}, ["busybox", "sh", "-c", "echo hi"]),
    (RUN, ["--rm", "img", "--rm", "-d"], {"rm": True}, ["img", "--rm", "-d"]),
    (RUN, ["--rm=false", "-d=false", "--name=x", "--name", "y", "img"],
     {"rm": False, "detach": False, "name": "y"}, ["img"]),
    (RUN, ["--rm=true", "--sig-proxy=0", "-d=T", "img"],
     {"rm": True, "sig-proxy": False, "detach": True}, ["img"]),
    # a bool never takes the next argument
    (RUN, ["--rm", "false"], {"rm": True}, ["false"]),
    (RUN, ["-it=true", "img"], {"interactive": True, "tty": True}, ["img"]),
    (RUN, ["--", "img", "-c"], {}, ["img", "-c"]),
    (RUN, ["-", "x"], {}, ["-", "x"]),
    (RUN, ["--name=", "img"], {"name": ""}, ["img"]),
    (RUN, ["-e", "", "img"], {"env": [""]}, ["img"]),
    (RUN, ["--name", "--rm", "img"], {"name": "--rm"}, ["img"]),
    (RUN, ["-h", "host", "img"], {"hostname": "host"}, ["img"]),
    (RUN, ["-c", "0x10", "--stop-timeout=-1", "img"], {"cpu-shares": 16, "stop-timeout": -1}, ["img"]),
    (RUN, ["-m", "512m", "img"], {"memory": 512 * 1024 * 1024}, ["img"]),
    (RUN, ["-m1g", "img"], {"memory": 1024 ** 3}, ["img"]),
    (RUN, ["--memory=100k", "img"], {"memory": 102400}, ["img"]),
    (RUN, ["--health-interval", "1m30s", "img"], {"health-interval": 90 * 10**9}, ["img"]),
    (RUN, ["--cpus", "1.5", "img"], {"cpus": 1.5}, ["img"]),
    (RUN, ["--sysctl", "a=b=c", "--sysctl", "bare", "img"], {"sysctl": {"a": "b=c", "bare": ""}}, ["img"]),
    (RUN, ["--dns-search", "a,b", "--dns-search", '"c,d",e', "img"],
     {"dns-search": ["a", "b", "c,d", "e"]}, ["img"]),
    (RUN, ["--dns-search", "", "img"], {"dns-search": []}, ["img"]),
    (RUN, ["--dns-search", 'a,"b""q"', "img"], {"dns-search": ["a", 'b"q']}, ["img"]),
    (RUN, ["--help"], {"help": True}, []),
    (RUN, ["--help=false", "img"], {"help": False}, ["img"]),
    # interspersed: flags anywhere
    (RM, ["c1", "-f"], {"force": True}, ["c1"]),
    (RM, ["-fv", "c1", "c2", "--link"], {"force": True, "volumes": True, "link": True}, ["c1", "c2"]),
    (RM, ["--", "-f"], {}, ["-f"]),
    (RM, ["c1", "--", "-f", "--link"], {}, ["c1", "-f", "--link"]),
    (RM, ["-h"], {"help": True}, []),
    (RM, ["c1", "--help"], {"help": True}, ["c1"]),
    (PS, ["-a=false", "--last=010", "-n", "0x10"], {"all": False, "last": 16}, []),
    (PS, ["-qa", "--filter", "status=exited", "-f", "name=x"],
     {"quiet": True, "all": True, "filter": ["status=exited", "name=x"]}, []),
    (PS, ["-f="], {"filter": ["="]}, []),
    (EXEC, ["-it", "c1", "sh", "-c", "ls -l"], {"interactive": True, "tty": True}, ["c1", "sh", "-c", "ls -l"]),
    (STOP, ["-t", "5", "c1"], {"timeout": 5}, ["c1"]),
]


@pytest.mark.parametrize("command,argv,flags,args", PARSES,
                         ids=[" ".join([c.name] + a) for c, a, _, _ in PARSES])
def test_parse(command, argv, flags, args):
    values, positionals = parse(command, argv)
    assert changed(values) == flags
    assert positionals == args


def test_defaults_fill_every_flag():
    values, _ = parse(RUN, ["img"])
    assert values["rm"] is False and values["sig-proxy"] is True
    assert values["env"] == [] and values["sysctl"] == {} and values["name"] == ""
    assert values["cpu-shares"] == 0 and values["memory"] == 0 and values["cpus"] == 0.0
    assert values["help"] is False and values.changed == set()


def test_list_default_is_replaced_then_appended_and_not_shared():
    cmd = Command("x", "ketch x", "", [FlagSpec("l", None, "list", default=["d"])])
    assert parse(cmd, [])[0]["l"] == ["d"]
    assert parse(cmd, ["--l", "a", "--l", "b"])[0]["l"] == ["a", "b"]
    first = parse(cmd, [])[0]
    first["l"].append("mutated")
    assert parse(cmd, [])[0]["l"] == ["d"]


def test_convert_replaces_kind_parsing_and_its_error_is_the_flag_error():
    def ulimit(raw):
        if "=" not in raw:
            raise ValueError("invalid ulimit argument: %s" % raw)
        return tuple(raw.split("=", 1))
    cmd = Command("x", "ketch x", "", [FlagSpec("ulimit", None, "list", convert=ulimit)])
    assert parse(cmd, ["--ulimit", "nofile=10"])[0]["ulimit"] == [("nofile", "10")]
    with pytest.raises(UsageError) as err:
        parse(cmd, ["--ulimit", "nofile"])
    assert err.value.message == 'invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile'


def test_deprecation_notices():
    values, args = parse(STOP, ["--time", "1", "c1"])
    assert values["time"] == 1 and args == ["c1"]
    assert values.notices == ["Flag --time has been deprecated, use --timeout instead"]
    values, _ = parse(RM, ["-h"])
    assert values.notices == ["Flag shorthand -h has been deprecated, use --help"]
    assert parse(RM, ["--help"])[0].notices == []


RUN_USAGE = "\n\nUsage:  ketch run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'ketch run --help' for more information"

# (command, argv, first line of stderr); flag errors exit 125, all verified
# against `docker <cmd> <argv>` (docker 28.2.2)
FLAG_ERRORS = [
    (RUN, ["--bogus", "busybox"], "unknown flag: --bogus"),
    (RUN, ["--bogus=1", "busybox"], "unknown flag: --bogus"),
    (RUN, ["-z", "busybox"], "unknown shorthand flag: 'z' in -z"),
    (RUN, ["-dz", "busybox"], "unknown shorthand flag: 'z' in -z"),
    (RUN, ["--name"], "flag needs an argument: --name"),
    (RUN, ["-e"], "flag needs an argument: 'e' in -e"),
    (RUN, ["-dp"], "flag needs an argument: 'p' in -p"),
    (RUN, ["-h"], "flag needs an argument: 'h' in -h"),
    (RUN, ["-c", "abc", "busybox"],
     'invalid argument "abc" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "abc": invalid syntax'),
    (RUN, ["--stop-timeout", "abc", "busybox"],
     'invalid argument "abc" for "--stop-timeout" flag: strconv.ParseInt: parsing "abc": invalid syntax'),
    (RUN, ["--memory", "x", "busybox"], 'invalid argument "x" for "-m, --memory" flag: invalid size: \'x\''),
    (RUN, ["--memory", "512q", "busybox"],
     'invalid argument "512q" for "-m, --memory" flag: invalid suffix: \'q\''),
    (RUN, ["--health-interval", "10", "busybox"],
     'invalid argument "10" for "--health-interval" flag: time: missing unit in duration "10"'),
    (RUN, ["--rm=maybe", "busybox"],
     'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax'),
    (RUN, ["---x", "busybox"], "bad flag syntax: ---x"),
    (RUN, ["--=x", "busybox"], "bad flag syntax: --=x"),
    (RUN, ["--help", "--bogus"], "unknown flag: --bogus"),
    (RUN, ["-é"], "unknown shorthand flag: 'Ã' in -é"),
    (PS, ["-a="], "unknown shorthand flag: '=' in -="),
    (PS, ["-'"], "unknown shorthand flag: '\\'' in -'"),
    (PS, ["--filter"], "flag needs an argument: --filter"),
    (PS, ["-af"], "flag needs an argument: 'f' in -f"),
    (PS, ["-qa=x"], 'invalid argument "x" for "-a, --all" flag: strconv.ParseBool: parsing "x": invalid syntax'),
    (PS, ["--all="], 'invalid argument "" for "-a, --all" flag: strconv.ParseBool: parsing "": invalid syntax'),
    (PS, ["-n", "x"], 'invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax'),
    (PS, ["-n", "99999999999999999999"], 'invalid argument "99999999999999999999" for "-n, --last" flag: '
     'strconv.ParseInt: parsing "99999999999999999999": value out of range'),
    (RM, ["--bogus"], "unknown flag: --bogus"),
    (RM, ["--help=x"], 'invalid argument "x" for "--help" flag: strconv.ParseBool: parsing "x": invalid syntax'),
    (STOP, ["--time=x", "a"], 'invalid argument "x" for "--time" flag: strconv.ParseInt: parsing "x": invalid syntax'),
    (RUN, ["--dns-search", 'a"b', "img"], 'invalid argument "a\\"b" for "--dns-search" flag: '
     'parse error on line 1, column 2: bare " in non-quoted-field'),
    (RUN, ["--dns-search", '"a"b', "img"], 'invalid argument "\\"a\\"b" for "--dns-search" flag: '
     'parse error on line 1, column 3: extraneous or missing " in quoted-field'),
]


@pytest.mark.parametrize("command,argv,message", FLAG_ERRORS,
                         ids=[" ".join([c.name] + a) for c, a, _ in FLAG_ERRORS])
def test_flag_errors(command, argv, message):
    with pytest.raises(UsageError) as err:
        parse(command, argv)
    assert err.value.message == message
    assert err.value.exit_code == 125
    assert err.value.text() == "%s\n\nUsage:  %s\n\nRun '%s --help' for more information" % (
        message, command.usage, command.path)


def test_flag_error_text_is_dockers():
    with pytest.raises(UsageError) as err:
        parse(RUN, ["--bogus", "busybox"])
    assert err.value.text() == "unknown flag: --bogus" + RUN_USAGE
    assert str(err.value) == "unknown flag: --bogus"


# (command, argv, exit 1 stderr) from docker/cli's cli/required.go, as docker
# 28.2.2 printed them, hint words and all ("See", "Run", "SRun")
ARG_ERRORS = [
    (RUN, [], "ketch: 'ketch run' requires at least 1 argument\n\n"
     "Usage:  ketch run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'ketch run --help' for more information"),
    (RUN, ["-it=true"], "ketch: 'ketch run' requires at least 1 argument\n\n"
     "Usage:  ketch run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'ketch run --help' for more information"),
    (RM, [], "ketch: 'ketch rm' requires at least 1 argument\n\n"
     "Usage:  ketch rm [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'ketch rm --help' for more information"),
    (EXEC, ["c1"], "ketch: 'ketch exec' requires at least 2 arguments\n\n"
     "Usage:  ketch exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\nSee 'ketch exec --help' for more information"),
    (PS, ["x"], "ketch: 'ketch ps' accepts no arguments\n\n"
     "Usage:  ketch ps [OPTIONS]\n\nRun 'ketch ps --help' for more information"),
    (LOGS, [], "ketch: 'ketch logs' requires 1 argument\n\n"
     "Usage:  ketch logs [OPTIONS] CONTAINER\n\nRun 'ketch logs --help' for more information"),
    (TAG, ["a"], "ketch: 'ketch tag' requires 2 arguments\n\n"
     "Usage:  ketch tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nRun 'ketch tag --help' for more information"),
    (LOGOUT, ["a", "b"], "ketch: 'ketch logout' requires at most 1 argument\n\n"
     "Usage:  ketch logout [SERVER]\n\nSRun 'ketch logout --help' for more information"),
    (COMMIT, [], "ketch: 'ketch commit' requires at least 1 and at most 2 arguments\n\n"
     "Usage:  ketch commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]\n\nRun 'ketch commit --help' for more information"),
    (COMMIT, ["a", "b", "c"], "ketch: 'ketch commit' requires at least 1 and at most 2 arguments\n\n"
     "Usage:  ketch commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]\n\nRun 'ketch commit --help' for more information"),
]


@pytest.mark.parametrize("command,argv,text", ARG_ERRORS,
                         ids=[" ".join([c.name] + a) for c, a, _ in ARG_ERRORS])
def test_argument_count_errors(command, argv, text):
    with pytest.raises(UsageError) as err:
        parse(command, argv)
    assert err.value.exit_code == 1
    assert err.value.text() == text


def test_help_skips_the_argument_count():
    values, args = parse(RUN, ["--help"])
    assert values["help"] and args == []
    assert parse(PS, ["--help", "x"])[0]["help"]


def test_invocation_path_replaces_the_command_path():
    # `docker container rm` shows its own path in errors and help
    with pytest.raises(UsageError) as err:
        parse(RM, [], path="ketch container rm")
    assert err.value.text() == (
        "ketch: 'ketch container rm' requires at least 1 argument\n\n"
        "Usage:  ketch container rm [OPTIONS] CONTAINER [CONTAINER...]\n\n"
        "See 'ketch container rm --help' for more information")
    with pytest.raises(UsageError) as err:
        parse(RM, ["--bogus"], path="ketch container rm")
    assert err.value.text() == (
        "unknown flag: --bogus\n\n"
        "Usage:  ketch container rm [OPTIONS] CONTAINER [CONTAINER...]\n\n"
        "Run 'ketch container rm --help' for more information")
    assert render_help(RM, path="ketch container rm", width=80).startswith(
        "Usage:  ketch container rm [OPTIONS] CONTAINER [CONTAINER...]\n")


def test_args_error_override():
    cmd = Command("x", "ketch x NAME", "", min_args=1, max_args=1, args_error="requires exactly 1 argument")
    with pytest.raises(UsageError) as err:
        parse(cmd, [])
    assert err.value.message == "ketch: 'ketch x' requires exactly 1 argument"


def test_errors_carry_notices_printed_before_them():
    with pytest.raises(UsageError) as err:
        parse(RM, ["-h=x"])
    assert err.value.notices == ["Flag shorthand -h has been deprecated, use --help"]


@pytest.mark.parametrize("flags", [
    [FlagSpec("a", None, "bool"), FlagSpec("a", None, "bool")],
    [FlagSpec("a", "x", "bool"), FlagSpec("b", "x", "bool")],
])
def test_conflicting_declarations_are_rejected(flags):
    with pytest.raises(ValueError):
        Command("x", "ketch x", "", flags)


def test_bad_specs_are_rejected():
    with pytest.raises(ValueError):
        FlagSpec("a", None, "strings")
    with pytest.raises(ValueError):
        FlagSpec("a", "ab", "bool")


# Help screens exactly as docker 28.2.2 printed them at 80 columns.
HELP = [
    (PS, """\
Usage:  ketch ps [OPTIONS]

List containers

Aliases:
  ketch container ls, ketch container list, ketch container ps, ketch ps

Options:
  -a, --all             Show all containers (default shows just running)
  -f, --filter filter   Filter output based on conditions provided
      --format string   Format output using a custom template:
                        'table':            Print output in table format
                        with column headers (default)
                        'table TEMPLATE':   Print output in table format
                        using the given Go template
                        'json':             Print in JSON format
                        'TEMPLATE':         Print output using the given
                        Go template.
                        Refer to https://docs.docker.com/go/formatting/
                        for more information about formatting output with
                        templates
  -n, --last int        Show n last created containers (includes all
                        states) (default -1)
  -l, --latest          Show the latest created container (includes all
                        states)
      --no-trunc        Don't truncate output
  -q, --quiet           Only display container IDs
  -s, --size            Display total file sizes
"""),
    (RM, """\
Usage:  ketch rm [OPTIONS] CONTAINER [CONTAINER...]

Remove one or more containers

Aliases:
  ketch container rm, ketch container remove, ketch rm

Options:
  -f, --force     Force the removal of a running container (uses SIGKILL)
  -l, --link      Remove the specified link
  -v, --volumes   Remove anonymous volumes associated with the container
"""),
    (LOGS, """\
Usage:  ketch logs [OPTIONS] CONTAINER

Fetch the logs of a container

Aliases:
  ketch container logs, ketch logs

Options:
      --details        Show extra details provided to logs
  -f, --follow         Follow log output
      --since string   Show logs since timestamp (e.g.
                       "2013-01-02T13:23:37Z") or relative (e.g. "42m"
                       for 42 minutes)
  -n, --tail string    Number of lines to show from the end of the logs
                       (default "all")
  -t, --timestamps     Show timestamps
      --until string   Show logs before a timestamp (e.g.
                       "2013-01-02T13:23:37Z") or relative (e.g. "42m"
                       for 42 minutes)
"""),
    # the deprecated --time is hidden
    (STOP, """\
Usage:  ketch stop [OPTIONS] CONTAINER [CONTAINER...]

Stop one or more running containers

Aliases:
  ketch container stop, ketch stop

Options:
  -s, --signal string   Signal to send to the container
  -t, --timeout int     Seconds to wait before killing the container
"""),
    # only the hidden --help: no Options section at all
    (PAUSE, """\
Usage:  ketch pause CONTAINER [CONTAINER...]

Pause all processes within one or more containers

Aliases:
  ketch container pause, ketch pause
"""),
    (EXEC, """\
Usage:  ketch exec [OPTIONS] CONTAINER COMMAND [ARG...]

Execute a command in a running container

Aliases:
  ketch container exec, ketch exec

Options:
  -d, --detach               Detached mode: run command in the background
      --detach-keys string   Override the key sequence for detaching a
                             container
  -e, --env list             Set environment variables
      --env-file list        Read in a file of environment variables
  -i, --interactive          Keep STDIN open even if not attached
      --privileged           Give extended privileges to the command
  -t, --tty                  Allocate a pseudo-TTY
  -u, --user string          Username or UID (format:
                             "<name|uid>[:<group|gid>]")
  -w, --workdir string       Working directory inside the container
"""),
]


@pytest.mark.parametrize("command,text", HELP, ids=[c.name for c, _ in HELP])
def test_help_matches_docker(command, text):
    assert render_help(command, width=80) == text


def test_help_lists_help_when_h_is_taken():
    # docker run gives -h to --hostname and lists "--help  Print usage"
    cmd = Command("run", "ketch run IMAGE", "Run", [
        FlagSpec("health-interval", None, "duration",
                 help="Time between running the check (ms|s|m|h) (default 0s)"),
        FlagSpec("hostname", "h", "string", help="Container host name"),
    ])
    assert render_help(cmd, width=80).endswith(
        "Options:\n"
        "      --health-interval duration   Time between running the check\n"
        "                                   (ms|s|m|h) (default 0s)\n"
        "      --help                       Print usage\n"
        "  -h, --hostname string            Container host name\n")


# pflag's "(default ...)" rules per kind, and the overrides
DEFAULTS = [
    (FlagSpec("x", None, "bool", default=True), "(default true)"),
    (FlagSpec("x", None, "bool"), None),
    (FlagSpec("x", None, "string", default='no "x"'), '(default "no \\"x\\"")'),
    (FlagSpec("x", None, "int", default=-1), "(default -1)"),
    (FlagSpec("x", None, "int", default=0), None),
    (FlagSpec("x", None, "float", default=1.0), "(default 1)"),
    (FlagSpec("x", None, "duration", default=30 * 10**9), "(default 30s)"),
    (FlagSpec("x", None, "duration"), None),
    (FlagSpec("x", None, "bytes", default=64 * 1024 * 1024), "(default 64MiB)"),
    (FlagSpec("x", None, "list"), None),
    (FlagSpec("x", None, "slice", default=["a", "b"]), "(default [a,b])"),
    (FlagSpec("x", None, "map"), "(default map[])"),
    (FlagSpec("x", None, "map", default={"b": "2", "a": "1"}), "(default map[a:1 b:2])"),
    (FlagSpec("x", None, "list", default_text="[]"), "(default [])"),
    (FlagSpec("x", None, "string", default="all", default_text=""), None),
]


@pytest.mark.parametrize("spec,text", DEFAULTS)
def test_help_defaults(spec, text):
    line = render_help(Command("c", "ketch c", "C", [spec]), width=200).splitlines()[-1]
    if text is None:
        assert "(default" not in line
    else:
        assert line.endswith(" " + text)


@pytest.mark.parametrize("spec,head", [
    (FlagSpec("x", None, "slice", help="H"), "      --x strings   H"),
    (FlagSpec("x", None, "bytes", help="H"), "      --x bytes   H"),
    (FlagSpec("x", None, "float", help="H", metavar="decimal"), "      --x decimal   H"),
    (FlagSpec("x", None, "string", help="the `path` to use"), "      --x path   the path to use"),
    (FlagSpec("x", "y", "bool", help="H"), "  -y, --x   H"),
])
def test_help_value_names(spec, head):
    line = render_help(Command("c", "ketch c", "C", [spec]), width=200).splitlines()[-1]
    assert line == head


def test_hidden_flags_are_left_out_of_help_but_still_parse():
    cmd = Command("c", "ketch c", "C", [FlagSpec("secret", None, "bool", hidden=True),
                                        FlagSpec("shown", None, "bool", help="Shown")])
    assert "--secret" not in render_help(cmd, width=80)
    assert parse(cmd, ["--secret"])[0]["secret"] is True
