"""ketch.build.shell_lex against buildkit's own tests of frontend/dockerfile/shell.

ENV_VAR_TEST is buildkit's ``envVarTest`` table (as moby vendors it) with its
environment; the other cases come from ``lex_test.go``, except PROCESS_WORDS, which
pins the word splitting the way moby's ``wordsTest`` and the lexer's source describe it.
"""

import pytest

from ketch.build.shell_lex import (ProcessWord, ProcessWords, _pattern_source, _reverse_pattern,
                                   quote, _LexError)
from ketch.errors import InvalidArgument

ENVS = ["PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="]

# platform (A all, U unix, W windows) | source | expected ("error": fails)
ENV_VAR_TEST = r"""
A|hello                    |     hello
A|he'll'o                  |     hello
A|he'llo                   |     error
A|he\'llo                  |     he'llo
A|he\\'llo                 |     error
A|abc\tdef                 |     abctdef
A|"abc\tdef"               |     abc\tdef
A|"abc\\tdef"              |     abc\tdef
A|'abc\tdef'               |     abc\tdef
A|hello\                   |     hello
A|hello\\                  |     hello\
A|"hello                   |     error
A|"hello\"                 |     error
A|"hel'lo"                 |     hel'lo
A|'hello                   |     error
A|'hello\'                 |     hello\
A|'hello\there'            |     hello\there
A|'hello\\there'           |     hello\\there
A|"''"                     |     ''
A|$.                       |     $.
A|he$1x                    |     hex
A|he$.x                    |     he$.x
# Next one is different on Windows as $pwd==$PWD
U|he$pwd.                  |     he.
W|he$pwd.                  |     he/home.
A|he$PWD                   |     he/home
A|he\$PWD                  |     he$PWD
A|he\\$PWD                 |     he\/home
A|"he\$PWD"                |     he$PWD
A|"he\\$PWD"               |     he\/home
A|\${}                     |     ${}
A|\${}aaa                  |     ${}aaa
A|he\${}                   |     he${}
A|he\${}xx                 |     he${}xx
A|${}                      |     error
A|${}aaa                   |     error
A|he${}                    |     error
A|he${}xx                  |     error
A|he${hi}                  |     he
A|he${hi}xx                |     hexx
A|he${PWD}                 |     he/home
A|he${.}                   |     error
A|he${XXX:-000}xx          |     he000xx
A|he${PWD:-000}xx          |     he/homexx
A|he${XXX:-$PWD}xx         |     he/homexx
A|he${XXX:-${PWD:-yyy}}xx  |     he/homexx
A|he${XXX:-${YYY:-yyy}}xx  |     heyyyxx
A|he${XXX:YYY}             |     error
A|he${XXX?}                |     error
A|he${XXX:?}               |     error
A|he${PWD?}                |     he/home
A|he${PWD:?}               |     he/home
A|he${NULL?}               |     he
A|he${NULL:?}              |     error
A|he${XXX:+${PWD}}xx       |     hexx
A|he${PWD:+${XXX}}xx       |     hexx
A|he${PWD:+${SHELL}}xx     |     hebashxx
A|he${XXX:+000}xx          |     hexx
A|he${PWD:+000}xx          |     he000xx
A|'he${XX}'                |     he${XX}
A|"he${PWD}"               |     he/home
A|"he'$PWD'"               |     he'/home'
A|"$PWD"                   |     /home
A|'$PWD'                   |     $PWD
A|'\$PWD'                  |     \$PWD
A|'"hello"'                |     "hello"
A|he\$PWD                  |     he$PWD
A|"he\$PWD"                |     he$PWD
A|'he\$PWD'                |     he\$PWD
A|he${PWD                  |     error
A|he${PWD:=000}xx          |     error
A|he${PWD:+${PWD}:}xx      |     he/home:xx
A|he${XXX:-\$PWD:}xx       |     he$PWD:xx
A|he${XXX:-\${PWD}z}xx     |     he${PWDz}xx
A|안녕하세요                 |     안녕하세요
A|안'녕'하세요               |     안녕하세요
A|안'녕하세요                |     error
A|안녕\'하세요               |     안녕'하세요
A|안\\'녕하세요              |     error
A|안녕\t하세요               |     안녕t하세요
A|"안녕\t하세요"             |     안녕\t하세요
A|'안녕\t하세요              |     error
A|안녕하세요\                |     안녕하세요
A|안녕하세요\\               |     안녕하세요\
A|"안녕하세요                |     error
A|"안녕하세요\"              |     error
A|"안녕'하세요"              |     안녕'하세요
A|'안녕하세요                |     error
A|'안녕하세요\'              |     안녕하세요\
A|안녕$1x                    |     안녕x
A|안녕$.x                    |     안녕$.x
# Next one is different on Windows as $pwd==$PWD
U|안녕$pwd.                  |     안녕.
W|안녕$pwd.                  |     안녕/home.
A|안녕$PWD                   |     안녕/home
A|안녕\$PWD                  |     안녕$PWD
A|안녕\\$PWD                 |     안녕\/home
A|안녕\${}                   |     안녕${}
A|안녕\${}xx                 |     안녕${}xx
A|안녕${}                    |     error
A|안녕${}xx                  |     error
A|안녕${hi}                  |     안녕
A|안녕${hi}xx                |     안녕xx
A|안녕${PWD}                 |     안녕/home
A|안녕${.}                   |     error
A|안녕${XXX:-000}xx          |     안녕000xx
A|안녕${PWD:-000}xx          |     안녕/homexx
A|안녕${XXX:-$PWD}xx         |     안녕/homexx
A|안녕${XXX:-${PWD:-yyy}}xx  |     안녕/homexx
A|안녕${XXX:-${YYY:-yyy}}xx  |     안녕yyyxx
A|안녕${XXX:YYY}             |     error
A|안녕${XXX:+${PWD}}xx       |     안녕xx
A|안녕${PWD:+${XXX}}xx       |     안녕xx
A|안녕${PWD:+${SHELL}}xx     |     안녕bashxx
A|안녕${XXX:+000}xx          |     안녕xx
A|안녕${PWD:+000}xx          |     안녕000xx
A|'안녕${XX}'                |     안녕${XX}
A|"안녕${PWD}"               |     안녕/home
A|"안녕'$PWD'"               |     안녕'/home'
A|'"안녕"'                   |     "안녕"
A|안녕\$PWD                  |     안녕$PWD
A|"안녕\$PWD"                |     안녕$PWD
A|'안녕\$PWD'                |     안녕\$PWD
A|안녕${PWD                  |     error
A|안녕${PWD:=000}xx          |     error
A|안녕${PWD:+${PWD}:}xx      |     안녕/home:xx
A|안녕${XXX:-\$PWD:}xx       |     안녕$PWD:xx
A|안녕${XXX:-\${PWD}z}xx     |     안녕${PWDz}xx
A|$KOREAN                    |     한국어
A|안녕$KOREAN                |     안녕한국어
A|${{aaa}                   |     error
A|${aaa}}                   |     }
A|${aaa                     |     error
A|${{aaa:-bbb}              |     error
A|${aaa:-bbb}}              |     bbb}
A|${aaa:-bbb                |     error
A|${aaa:-bbb}               |     bbb
A|${aaa:-${bbb:-ccc}}       |     ccc
A|${aaa:-bbb ${foo}         |     error
A|${aaa:-bbb {foo}          |     bbb {foo
A|${:}                      |     error
A|${:-bbb}                  |     error
A|${:+bbb}                  |     error

# Positional parameters won't be set:
# http://pubs.opengroup.org/onlinepubs/009695399/utilities/xcu_chap02.html#tag_02_05_01
A|$1                        |
A|${1}                      |
A|${1:+bbb}                 |
A|${1:-bbb}                 |     bbb
A|$2                        |
A|${2}                      |
A|${2:+bbb}                 |
A|${2:-bbb}                 |     bbb
A|$3                        |
A|${3}                      |
A|${3:+bbb}                 |
A|${3:-bbb}                 |     bbb
A|$4                        |
A|${4}                      |
A|${4:+bbb}                 |
A|${4:-bbb}                 |     bbb
A|$5                        |
A|${5}                      |
A|${5:+bbb}                 |
A|${5:-bbb}                 |     bbb
A|$6                        |
A|${6}                      |
A|${6:+bbb}                 |
A|${6:-bbb}                 |     bbb
A|$7                        |
A|${7}                      |
A|${7:+bbb}                 |
A|${7:-bbb}                 |     bbb
A|$8                        |
A|${8}                      |
A|${8:+bbb}                 |
A|${8:-bbb}                 |     bbb
A|$9                        |
A|${9}                      |
A|${9:+bbb}                 |
A|${9:-bbb}                 |     bbb
A|$999                      |
A|${999}                    |
A|${999:+bbb}               |
A|${999:-bbb}               |     bbb
A|$999aaa                   |     aaa
A|${999}aaa                 |     aaa
A|${999:+bbb}aaa            |     aaa
A|${999:-bbb}aaa            |     bbbaaa
A|$001                      |
A|${001}                    |
A|${001:+bbb}               |
A|${001:-bbb}               |     bbb
A|$001aaa                   |     aaa
A|${001}aaa                 |     aaa
A|${001:+bbb}aaa            |     aaa
A|${001:-bbb}aaa            |     bbbaaa

# Special parameters won't be set in the Dockerfile:
# http://pubs.opengroup.org/onlinepubs/009695399/utilities/xcu_chap02.html#tag_02_05_02
A|$@                        |
A|${@}                      |
A|${@:+bbb}                 |
A|${@:-bbb}                 |     bbb
A|$@@@                      |     @@
A|$@aaa                     |     aaa
A|${@}aaa                   |     aaa
A|${@:+bbb}aaa              |     aaa
A|${@:-bbb}aaa              |     bbbaaa
A|$*                        |
A|${*}                      |
A|${*:+bbb}                 |
A|${*:-bbb}                 |     bbb
A|$#                        |
A|${#}                      |
A|${#:+bbb}                 |
A|${#:-bbb}                 |     bbb
A|$?                        |
A|${?}                      |
A|${?:+bbb}                 |
A|${?:-bbb}                 |     bbb
A|$-                        |
A|${-}                      |
A|${-:+bbb}                 |
A|${-:-bbb}                 |     bbb
A|$$                        |
A|${$}                      |
A|${$:+bbb}                 |
A|${$:-bbb}                 |     bbb
A|$!                        |
A|${!}                      |
A|${!:+bbb}                 |
A|${!:-bbb}                 |     bbb
A|$0                        |
A|${0}                      |
A|${0:+bbb}                 |
A|${0:-bbb}                 |     bbb
"""


def _env_var_cases():
    for number, line in enumerate(ENV_VAR_TEST.splitlines(), 1):
        if line.startswith("#") or not line.strip():
            continue
        platform, source, expected = (part.strip() for part in line.split("|"))
        if platform in ("A", "U"):
            yield pytest.param(source, expected, id=f"line{number}")


@pytest.mark.parametrize("source,expected", list(_env_var_cases()))
def test_env_var_table(source, expected):
    if expected == "error":
        with pytest.raises(InvalidArgument):
            ProcessWord(source, ENVS)
    else:
        assert ProcessWord(source, ENVS) == expected


# lex_test.go TestProcessWithMatches: word, env, result (None: an error)
WITH_MATCHES = [
    ("x", {"DUMMY": "dummy"}, "x"),
    ("x ${UNUSED}", {"DUMMY": "dummy"}, "x "),
    ("x ${FOO}", {"FOO": "y"}, "x y"),
    ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx  ccc"),
    ("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", {"FOO": "xxx", "BAR": ""}, "xxx bbb ccc"),
    ("${FOO:-}", {"FOO": "xxx", "BAR": ""}, "xxx"),
    ("${FOO:-}", {}, ""),
    ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa bbb "),
    ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", {"FOO": "xxx", "BAR": ""}, "aaa  "),
    ("${FOO?aaa}", {"FOO": "xxx", "BAR": ""}, "xxx"),
    ("${BAR?bbb}", {"FOO": "xxx", "BAR": ""}, ""),
    ("${BAZ?ccc}", {"FOO": "xxx", "BAR": ""}, None),
    ("${FOO:?aaa}", {"FOO": "xxx", "BAR": ""}, "xxx"),
    ("${BAR:?bbb}", {"FOO": "xxx", "BAR": ""}, None),
    ("${BAZ:?ccc}", {"FOO": "xxx", "BAR": ""}, None),
    ("${BAZ:?}", {"FOO": "xxx", "BAR": ""}, None),
    ("${FOO=aaa}", {"FOO": "xxx", "BAR": ""}, None),
    ("${FOO=:aaa}", {"FOO": "xxx", "BAR": ""}, None),
    ("${FOO=}", {}, None),
    ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", {"FOO": "()[]{}^$.*?|\\x"}, "x"),
    ("${FOO%%\\**}", {"FOO": "xx**"}, "xx"),
    ("${FOO#*x*y}", {"FOO": "xxyy"}, "y"),
    ("${FOO#*}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": "x"}, "xyy"),
    ("${FOO#$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy"),
    ("${FOO#}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO##*x}", {"FOO": "xxyy"}, "yy"),
    ("${FOO##}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO#?\\?}", {"FOO": "???y"}, "?y"),
    ("${ABC:-.}${FOO%x}${ABC:-.}", {"FOO": "xxyy"}, ".xxyy."),
    ("${FOO%%\\**\\*}", {"FOO": "a***yy*"}, "a"),
    ("${FOO%}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO%%$BAR}", {"FOO": "xxyy", "BAR": ""}, "xxyy"),
    ("${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", {"FOO": "/foo*/*/*.txt", "NEEDLE": "\\*/"},
     "/foo.*/*.txt - /foo..*.txt"),
    ("${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", {"FOO": "/tmp/tmp/bar.txt", "NEEDLE": "/tmp"},
     "/tmp/bar.txt - /bar.txt"),
    ("${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
     {"FOO": "/a/foo/b/c.txt", "NEEDLE": "/?/", "REPLACEMENT": "/"}, "/foo/b/c.txt - /foo/c.txt"),
    ("${FOO/$NEEDLE/$REPLACEMENT}",
     {"FOO": "http://google.de", "NEEDLE": "http://", "REPLACEMENT": "https://"},
     "https://google.de"),
    ("${FOO//\\//\\/}", {"FOO": "/tmp/foo.txt"}, "\\/tmp\\/foo.txt"),
    ("${FOO/$BAR/ww}", {"FOO": "xxyy", "BAR": ""}, "wwxxyy"),
    ("${FOO//ww}", {"FOO": "xxyy"}, None),
    ("${FOO//}", {"FOO": "xxyy"}, None),
    ("${FOO///}", {"FOO": "xxyy"}, "xxyy"),
    ("${FOO///}", {}, ""),
]


@pytest.mark.parametrize("word,env,expected", WITH_MATCHES)
def test_process_word(word, env, expected):
    env = [f"{k}={v}" for k, v in env.items()]
    if expected is None:
        with pytest.raises(InvalidArgument):
            ProcessWord(word, env)
    else:
        assert ProcessWord(word, env) == expected


def test_mandatory_env_vars():
    set_, empty, unset = ["VAR=plain", "ARG=x"], ["VAR=", "ARG=x"], ["ARG=x"]
    no_empty, no_unset = "${VAR:?message here$ARG}", "${VAR?message here$ARG}"
    assert ProcessWord(no_empty, set_) == "plain"
    for env in (empty, unset):
        with pytest.raises(InvalidArgument, match="message herex"):
            ProcessWord(no_empty, env)
    assert ProcessWord(no_unset, set_) == "plain"
    assert ProcessWord(no_unset, empty) == ""
    with pytest.raises(InvalidArgument, match="message herex"):
        ProcessWord(no_unset, unset)


def test_release_file_name():
    release = ("something-${VERSION}.${TARGETOS}-${TARGETARCH}"
               "${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz")
    base = ["VERSION=v1.2.3", "TARGETOS=linux"]
    assert ProcessWord(release, base + ["TARGETARCH=arm", "TARGETVARIANT=v7"]) == \
        "something-v1.2.3.linux-arm-v7.tar.gz"
    assert ProcessWord(release, base + ["TARGETARCH=arm64", "TARGETVARIANT="]) == \
        "something-v1.2.3.linux-arm64.tar.gz"
    assert ProcessWord(release, base + ["TARGETARCH=arm64"]) == \
        "something-v1.2.3.linux-arm64.tar.gz"


@pytest.mark.parametrize("env,expected", [
    ([], ""), (["foo"], ""), (["foo="], ""), (["foo=bar"], "bar"), (["foo=bar", "car=hat"], "bar"),
])
def test_get_env(env, expected):
    assert ProcessWord("$foo", env) == expected


def test_a_later_duplicate_wins():
    assert ProcessWord("$car", ["foo=bar", "car=hat", "car=bike"]) == "bike"


@pytest.mark.parametrize("pattern,regex", [
    ("*", "^.*"), ("?", "^."), ("\\*", "^\\*"),
    ("(()[]{\\}^$.\\*\\?|\\\\", "^\\(\\(\\)\\[\\]\\{\\}\\^\\$\\.\\*\\?\\|\\\\"),
])
def test_pattern_to_regex(pattern, regex):
    assert _pattern_source(pattern, True, True) == regex


@pytest.mark.parametrize("pattern", ["\\", "\\x", "\\\\\\"])
def test_invalid_pattern(pattern):
    with pytest.raises(_LexError):
        _pattern_source(pattern, True, True)


@pytest.mark.parametrize("pattern,reversed_", [
    ("a\\*c", "c\\*a"), ("\\\\\\ab", "b\\a\\\\"), ("ab\\", "\\ba"),
    ("👽\\🚀🖖", "🖖\\🚀👽"),
    ("\\\\b", "b\\\\"),
])
def test_reverse_pattern(pattern, reversed_):
    assert _reverse_pattern(pattern) == reversed_


# ProcessWords: unquoted spaces split, also those a value brings; quotes keep them
PROCESS_WORDS = [
    ("hello", [], ["hello"]),
    ("hello${hi}bye", [], ["hellobye"]),
    ("hello${hi}bye", ["hi=hi"], ["hellohibye"]),
    ("hello${space}bye", ["space=abc  def"], ["helloabc", "defbye"]),
    ('hello"${space}"bye', ["space=abc  def"], ["helloabc  defbye"]),
    ('hello "${space}"bye', ["space=abc  def"], ["hello", "abc  defbye"]),
    ("hello${leading}def", ["leading=  ab c"], ["hello", "ab", "cdef"]),
    ('hello"${leading}" def', ["leading=  ab c"], ["hello  ab c", "def"]),
    ("hello${trailing}d", ["trailing=ab c   "], ["helloab", "c", "d"]),
    ('hel"lo${trailing}"', ["trailing=ab c   "], ["helloab c   "]),
    ('hello" there  "', [], ["hello there  "]),
    ("hello there     ", [], ["hello", "there"]),
    ("hello\\ there", [], ["hello there"]),
    ('hello\\" there', [], ['hello"', "there"]),
    ('""', [], []),
    ("$UNSET", [], []),
    ("8000 ${P}", ["P=8001 8002/udp"], ["8000", "8001", "8002/udp"]),
    ("a${X:-b}c", [], ["abc"]),
]


@pytest.mark.parametrize("word,env,words", PROCESS_WORDS)
def test_process_words(word, env, words):
    assert ProcessWords(word, env) == words


def test_process_words_error():
    with pytest.raises(InvalidArgument):
        ProcessWords('hello" there', [])


@pytest.mark.parametrize("word,message", [
    ("${A", "failed to process \"${A\": unsupported modifier (\ufffd) in substitution"),
    ("${A:-x", "failed to process \"${A:-x\": syntax error: missing '}'"),
    ("${}", "failed to process \"${}\": syntax error: bad substitution"),
    ("${A:#x}", "failed to process \"${A:#x}\": unsupported modifier (:#) in substitution"),
    ("${A?}", "failed to process \"${A?}\": A: is not allowed to be unset"),
    ("${A:?no A}", "failed to process \"${A:?no A}\": A: no A"),
    ("'x", "failed to process \"'x\": unexpected end of statement while looking for matching "
           "single-quote"),
    ("${A#\\x}", "failed to process \"${A#\\\\x}\": invalid pattern (\\x) in substitution: "
                 "invalid escape '\\x'"),
    ("${A/x", "failed to process \"${A/x\": syntax error: missing '/' in ${}"),
])
def test_error_texts(word, message):
    with pytest.raises(InvalidArgument) as exc:
        ProcessWord(word, [])
    assert str(exc.value) == message


@pytest.mark.parametrize("word,env,expected", [
    ("${A//b/[$0]}", ["A=abcb"], "a[]c[]"),           # $0 in the word is the lexer's: empty
    ("${A//b/$R}", ["A=abcb", "R=<$0>"], "a<b>c<b>"),  # a value's $0 is the match, as Go's
    ("${A//b/$R}", ["A=abcb", "R=$$-${x}-$"], "a$--$c$--$"),
    ("${A//*/x}", ["A=ab"], "x"),                      # no second, empty match at the end
    ("${A//$E/-}", ["A=ab", "E="], "-a-b-"),
    ("\ufeff$A", ["A=1"], "1"),                        # text/scanner skips a leading BOM
])
def test_replacement_as_go(word, env, expected):
    assert ProcessWord(word, env) == expected


def test_quote_is_go_strconv_quote():
    assert quote('a"b\\c\x01\t\u00a0é😀') == '"a\\"b\\\\c\\x01\\t\\u00a0é😀"'
