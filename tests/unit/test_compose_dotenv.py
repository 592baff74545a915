"""dotenv: compose-go's dotenv cases (quotes, escapes, export, comments, multi-line values,
expansion, inherited keys, errors with line numbers) and the project environment."""

import os

import pytest

from ketch.compose.errors import LoadError
from ketch.compose.loader import dotenv
from ketch.compose.loader import LoadOptions


def one(text, key, lookup=None):
    return dotenv.parse(text, "/p/.env", lookup)[key]


@pytest.mark.parametrize("text,key,value", [
    ("FOO=bar", "FOO", "bar"), ("FOO =bar", "FOO", "bar"), ("FOO= bar", "FOO", "bar"),
    ('FOO="bar"', "FOO", "bar"), ("FOO='bar'", "FOO", "bar"),
    ('FOO="escaped\\"bar"', "FOO", 'escaped"bar'), ('FOO="\\"quoted\\""', "FOO", '"quoted"'),
    ("FOO=\"'d'\"", "FOO", "'d'"), ("OPTION_A: 1", "OPTION_A", "1"), ("OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
    ("OPTION_A=1:B", "OPTION_A", "1:B"), ("export OPTION_A=2", "OPTION_A", "2"),
    ("export OPTION_B='\\n'", "OPTION_B", "\\n"), ("export exportFoo=2", "exportFoo", "2"),
    ("exportFOO=2", "exportFOO", "2"), ("export_FOO =2", "export_FOO", "2"), ("export.FOO= 2", "export.FOO", "2"),
    ("export\tOPTION_A=2", "OPTION_A", "2"), ("  export OPTION_A=2", "OPTION_A", "2"),
    ('export OPTION_A="export A"', "OPTION_A", "export A"),
    ('FOO="bar\\nbaz"', "FOO", "bar\nbaz"), ("FOO=a\\tb", "FOO", "a\\tb"), ('FOO="a\\tb"', "FOO", "a\tb"),
    ('KEY="Z\\aZ\\bZ\\fZ\\nZ\\rZ\\tZ\\vZ\\\\Z\\0123Z"', "KEY", "Z\aZ\bZ\fZ\nZ\rZ\tZ\vZ\\ZSZ"),
    ("FOO.BAR=foobar", "FOO.BAR", "foobar"), ("FOO=foobar=", "FOO", "foobar="), ("FOO=bar ", "FOO", "bar"),
    ("FOO=bar # this is foo", "FOO", "bar"), ("FOO=bar #this is foo", "FOO", "bar"), ("FOO=bar #", "FOO", "bar"),
    ("FOO=123#not-an-inline-comment", "FOO", "123#not-an-inline-comment"),
    ('FOO="bar#baz"', "FOO", "bar#baz"), ('FOO="bar#baz"#', "FOO", "bar#baz"),
    ('FOO="bar#baz" # comment', "FOO", "bar#baz"), ("FOO='bar#baz' # comment", "FOO", "bar#baz"),
    ('FOO="bar\\n\\ b\\az"', "FOO", "bar\n\\ b\az"), ('FOO="bar\\\\\\n\\ b\\az"', "FOO", "bar\\\n\\ b\az"),
    ('FOO="bar\\\\r\\ b\\az"', "FOO", "bar\\r\\ b\az"), ('FOO="bar\\nbaz\\\\"', "FOO", "bar\nbaz\\"),
    ('="value"', "", "value"), (" KEY =value", "KEY", "value"), ("\tKEY=value", "KEY", "value"),
    ('KEY="\\0123"', "KEY", "S"), ('KEY="\\x07"', "KEY", "\\x07"), ('KEY="\\u12e4"', "KEY", "\\u12e4"),
    ("FOO=\n", "FOO", ""), ("FOO=", "FOO", ""), ("\ufeffFOO=1", "FOO", "1"),
    ("TEST_URLS=\"stratum+tcp://a:3333\nstratum+tcp://b:443\"", "TEST_URLS", "stratum+tcp://a:3333\nstratum+tcp://b:443"),
    ("J='first line\nsecond line'", "J", "first line\nsecond line"), ("K='Let\\'s go!'", "K", "Let's go!"),
    ('FOO="foo\\$BAR"', "FOO", "foo$BAR"), ('FOO="foo\\${BAR}"', "FOO", "foo${BAR}"),
    ("BAR='quote $FOO'", "BAR", "quote $FOO"), ("FOO=$$BAR", "FOO", "$BAR"),
])
def test_values(text, key, value):
    assert one(text, key) == value


def test_expansion_order_and_precedence():
    text = "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\nOPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${NOPE}\n"
    assert dotenv.parse(text, "f") == {"OPTION_A": "1", "OPTION_B": "1", "OPTION_C": "1", "OPTION_D": "1_1", "OPTION_E": ""}
    # the lookup (the shell) wins over the file's own earlier keys
    env = {"OPTION_A": "5"}.get
    assert dotenv.parse(text, "f", env) == {"OPTION_A": "1", "OPTION_B": "5", "OPTION_C": "5", "OPTION_D": "5_5", "OPTION_E": ""}
    assert dotenv.parse("OPTION_A=${OPTION_A:-1}\nB=${OPTION_A}\n", "f", env) == {"OPTION_A": "5", "B": "5"}
    assert dotenv.parse("OPTION_A=${OPTION_A:-1}\nB=${OPTION_A}\n", "f") == {"OPTION_A": "1", "B": "1"}


def test_inherited_keys():
    text = "foo=bar\nVAR_FROM_OS\nbar=baz\nNOT_FOUND\n"
    assert dotenv.parse(text, "f", {"VAR_FROM_OS": "v"}.get) == {"foo": "bar", "VAR_FROM_OS": "v", "bar": "baz"}
    assert dotenv.parse("ALONE", "f", {"ALONE": "x"}.get) == {"ALONE": "x"}


@pytest.mark.parametrize("text", ["", "\n", "\r\n", "\t\t ", "# Comment", "\t # comment\n# another"])
def test_ignored(text):
    assert dotenv.parse(text, "f") == {}


@pytest.mark.parametrize("text", ['KEY="', 'KEY="value', 'KEY="value\\"', "KEY=\"value'", "KEY='", "KEY='value",
                                  "KEY='value\\'", "KEY='value\""])
def test_unterminated(text):
    with pytest.raises(dotenv.DotenvError, match="unterminated quoted value"):
        dotenv.parse(text, "f")


@pytest.mark.parametrize("text,detail", [
    ('# some comments\nfoo="\n  a\n  multine\n  value\n"\nINVALID LINE\nzot=qix', "line 7: key cannot contain a space"),
    ("lol$wut", 'line 1: unexpected character "$" in variable name "lol$wut"'),
    ("A=1\n\nB=2\nC D=3", "line 4: key cannot contain a space"),
    ("A=${X?need X}", "required variable X is missing a value: need X"),
])
def test_errors(text, detail):
    with pytest.raises(dotenv.DotenvError) as info:
        dotenv.parse(text, "/p/.env")
    assert info.value.detail == detail
    assert str(info.value) == f"failed to read /p/.env: {detail}"


def test_read_errors(tmp_path):
    with pytest.raises(LoadError, match=f"^couldn't find env file: {tmp_path}/nope$"):
        dotenv.read(str(tmp_path / "nope"))
    with pytest.raises(LoadError, match=f"^{tmp_path} is a directory$"):
        dotenv.read(str(tmp_path))


def test_project_environment(tmp_path):
    (tmp_path / ".env").write_text("A=from-file\nB=from-file\nC=${B}-c\n")
    options = LoadOptions(environ={"B": "shell"}, working_dir=str(tmp_path))
    assert dotenv.project_environment(options, str(tmp_path)) == {"A": "from-file", "B": "shell", "C": "shell-c"}
    # --env-file replaces .env; relative to the working directory; later files see earlier ones
    (tmp_path / "one.env").write_text("X=1\n")
    (tmp_path / "two.env").write_text("Y=${X}2\nX=3\n")
    options = LoadOptions(environ={}, working_dir=str(tmp_path), env_files=["one.env", "two.env"])
    assert dotenv.project_environment(options, "/elsewhere") == {"X": "3", "Y": "12"}
    options = LoadOptions(environ={"COMPOSE_DISABLE_ENV_FILE": "1"}, working_dir=str(tmp_path))
    assert dotenv.project_environment(options, str(tmp_path)) == {"COMPOSE_DISABLE_ENV_FILE": "1"}
    options = LoadOptions(environ={}, working_dir=str(tmp_path), env_files=["missing.env"])
    with pytest.raises(LoadError, match="couldn't find env file: " + os.path.join(str(tmp_path), "missing.env")):
        dotenv.project_environment(options, str(tmp_path))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".env").mkdir()  # a directory named .env is not an env file
    assert dotenv.project_environment(LoadOptions(environ={}, working_dir=str(tmp_path)), "sub") == {}
