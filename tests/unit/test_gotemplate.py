"""Go text/template as Docker's --format speaks it: outputs and errors as Go gives them.

Expected strings are what Go (text/template, fmt, encoding/json) and docker/cli's
template functions produce for the same template and data, except where a comment
says ketch deliberately differs because JSON-decoded data lacks Go's static types.
"""

import subprocess
import sys

import pytest

from ketch.cli.format.gotemplate import Template, TemplateError, parse

CONTAINER = {
    "Id": "4fa6e0f0c678",
    "Name": "/web",
    "Args": ["-g", "daemon off;"],
    "State": {"Status": "running", "Running": True, "ExitCode": 0, "Pid": 4242,
              "Health": None},
    "Config": {
        "Image": "nginx:latest",
        "Env": ["PATH=/usr/bin", "A=1"],
        "Labels": {"a.b": "x", "com.example": "y"},
        "Cmd": None,
    },
    "Mounts": [{"Source": "/src", "Destination": "/dst", "RW": True},
               {"Source": "/var/lib/data", "Destination": "/data", "RW": False}],
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
}


def render(text, data=None, funcs=None):
    return parse(text, funcs).execute(data)


def error_of(text, data=None):
    with pytest.raises(TemplateError) as info:
        render(text, data)
    return str(info.value)


# -- docker formats users actually type --------------------------------------

DOCKER_CASES = [
    ("{{.State.ExitCode}}", CONTAINER, "0"),
    ("{{.State.Pid}}", CONTAINER, "4242"),
    ("{{.Name}}", CONTAINER, "/web"),
    ("{{json .Config}}", CONTAINER,
     '{"Image":"nginx:latest","Env":["PATH=/usr/bin","A=1"],'
     '"Labels":{"a.b":"x","com.example":"y"},"Cmd":null}'),
    ("{{range .Mounts}}{{.Source}} {{end}}", CONTAINER, "/src /var/lib/data "),
    ('{{index .Config.Labels "a.b"}}', CONTAINER, "x"),
    ('{{index .Config.Labels "missing"}}', CONTAINER, ""),
    ("{{.Names}}\t{{.Status}}", {"Names": "web", "Status": "Up 2 hours"}, "web\tUp 2 hours"),
    ('{{join .Args " "}}', CONTAINER, "-g daemon off;"),
    ("{{if .State.Running}}up{{else}}down{{end}}", CONTAINER, "up"),
    ("{{if .State.Health}}health{{else}}none{{end}}", CONTAINER, "none"),
    ('{{printf "%-10s|" .Name}}', CONTAINER, "/web      |"),
    ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", CONTAINER, "a.b=x;com.example=y;"),
    ("{{range $net, $conf := .NetworkSettings.Networks}}{{$net}} {{$conf.IPAddress}}{{end}}",
     CONTAINER, "bridge 172.17.0.2"),
    ("{{.NetworkSettings.Networks.bridge.IPAddress}}", CONTAINER, "172.17.0.2"),
    ("{{.Config.Env}}", CONTAINER, "[PATH=/usr/bin A=1]"),
    ("{{.Config.Labels}}", CONTAINER, "map[a.b:x com.example:y]"),
    ("{{.State.Health}}", CONTAINER, "<nil>"),
    ("{{.Config.Nope}}", CONTAINER, "<no value>"),
    ("{{.Config.Nope.Deeper}}", CONTAINER, "<no value>"),
    ("{{json .Mounts}}", CONTAINER,
     '[{"Source":"/src","Destination":"/dst","RW":true},'
     '{"Source":"/var/lib/data","Destination":"/data","RW":false}]'),
    ("{{range .Mounts}}{{if .RW}}{{.Destination}}{{end}}{{end}}", CONTAINER, "/dst"),
    ("{{with .State}}{{.Status}}/{{.Pid}}{{end}}", CONTAINER, "running/4242"),
    ("{{(index .Mounts 1).Source}}", CONTAINER, "/var/lib/data"),
    ("{{len .Mounts}} mounts", CONTAINER, "2 mounts"),
    ('{{range .Config.Env}}{{println .}}{{end}}', CONTAINER, "PATH=/usr/bin\nA=1\n"),
    ("{{upper .State.Status}} {{lower \"ABC\"}} {{title \"hello wide-world\"}}", CONTAINER,
     "RUNNING abc Hello Wide-World"),
    ('{{split "a,b,c" ","}}', None, "[a b c]"),
    ('{{index (split "k=v" "=") 1}}', None, "v"),
    ("{{pad .State.Status 1 2}}|", CONTAINER, " running  |"),
    ('{{pad "" 1 2}}|', None, "|"),
    ("{{truncate .Id 4}}", CONTAINER, "4fa6"),
    ("{{truncate .Id 40}}", CONTAINER, "4fa6e0f0c678"),
    ('{{"abcdef" | printf "%.3s"}}', None, "abc"),
]


@pytest.mark.parametrize("text,data,want", DOCKER_CASES)
def test_docker_formats(text, data, want):
    assert render(text, data) == want


# -- printing values as fmt.Sprint -------------------------------------------

VALUE_CASES = [
    ("text", "text"),
    (True, "true"),
    (False, "false"),
    (None, "<nil>"),
    (0, "0"),
    (-42, "-42"),
    (1.0, "1"),
    (0.5, "0.5"),
    (-2.25, "-2.25"),
    (100000.0, "100000"),
    (123456.0, "123456"),
    (1000000.0, "1e+06"),
    (123456789.0, "1.23456789e+08"),
    (1e21, "1e+21"),
    (0.0001, "0.0001"),
    (0.00001, "1e-05"),
    (1.5e-7, "1.5e-07"),
    (0.1 + 0.2, "0.30000000000000004"),
    (0.0, "0"),
    (-0.0, "-0"),
    (float("inf"), "+Inf"),
    (float("-inf"), "-Inf"),
    (float("nan"), "NaN"),
    ([], "[]"),
    (["a", "b", "c"], "[a b c]"),
    ([1, [2, 3], None, "x y"], "[1 [2 3] <nil> x y]"),
    ({}, "map[]"),
    ({"b": 2, "a": 1, "c": [True]}, "map[a:1 b:2 c:[true]]"),
    ({"outer": {"z": None, "y": 1.5}}, "map[outer:map[y:1.5 z:<nil>]]"),
]


@pytest.mark.parametrize("value,want", VALUE_CASES)
def test_value_printing(value, want):
    assert render("{{.}}", value) == want
    assert render("{{.V}}", {"V": value}) == want


def test_missing_key_is_no_value():
    assert render("{{.Missing}}", {}) == "<no value>"
    assert render("{{$x := .Missing}}{{$x}}", {}) == "<no value>"
    assert render("{{print .Missing}}", {}) == "<nil>"
    assert render("{{json .Missing}}", {}) == "null"
    assert render("{{html .Missing}}", {}) == "&lt;no value&gt;"
    assert render("{{if .Missing}}y{{else}}n{{end}}", {}) == "n"
    assert render("{{not .Missing}}", {}) == "true"


# -- syntax ------------------------------------------------------------------

SYNTAX_CASES = [
    # text and trim markers
    ("plain text", None, "plain text"),
    ("a\\tb", None, "a\\tb"),  # turning \t into a tab is the formatter's job
    ("", None, ""),
    ("a  {{- 1 -}}  b", None, "a1b"),
    ("a \n\t{{- 1}} b", None, "a1 b"),
    ("a {{1 -}}\n\n b", None, "a 1b"),
    ("{{-3}}", None, "-3"),
    ("x {{- /* note */ -}} y", None, "xy"),
    ("x{{/* a\nmultiline comment */}}y", None, "xy"),
    ("{{- \n .A \n -}}", {"A": 1}, "1"),
    ("{{.A\n}}", {"A": 1}, "1"),
    # literals
    ('{{"a\\tb\\n\\"q\\" \\u00e9 \\x41 \\101"}}', None, 'a\tb\n"q" é A A'),
    ("{{`raw\\n string`}}", None, "raw\\n string"),
    ("{{'a'}} {{'\\n'}} {{'\\x41'}}", None, "97 10 65"),
    ("{{42}} {{-7}} {{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", None,
     "42 -7 31 15 15 5 1000"),
    ("{{1.5}} {{1e3}} {{.5}} {{1.0}} {{0x1p4}}", None, "1.5 1000 0.5 1 16"),
    ("{{true}} {{false}}", None, "true false"),
    # fields, dot, variables
    ("{{.}}", "dot", "dot"),
    ("{{.A.B.C}}", {"A": {"B": {"C": "deep"}}}, "deep"),
    ("{{$}}", "root", "root"),
    ("{{with .A}}{{$.B}}{{end}}", {"A": 1, "B": "root-b"}, "root-b"),
    ("{{$x := .A}}{{$x.B}}", {"A": {"B": 3}}, "3"),
    ("{{$x := 1}}{{$x = 2}}{{$x}}", None, "2"),
    ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", None, "2"),
    ("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", None, "21"),
    ("{{$x := \"v\"}}", None, ""),  # a declaration prints nothing
    # pipelines and parentheses
    ('{{"x" | printf "%s-%s" "y"}}', None, "y-x"),
    ("{{.A | len | printf \"%03d\"}}", {"A": [1, 2]}, "002"),
    ("{{(index .L 0).Name}}", {"L": [{"Name": "first"}]}, "first"),
    ("{{(len .L) | printf \"%d!\"}}", {"L": [1]}, "1!"),
    ("{{printf \"%d\" (len .L)}}", {"L": [1, 2, 3]}, "3"),
    # if / else if / else
    ("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", {"A": 0, "B": "x"}, "b"),
    ("{{if .A}}a{{else if .B}}b{{else}}c{{end}}", {"A": "", "B": []}, "c"),
    ("{{if and .A .B}}y{{else}}n{{end}}", {"A": 1, "B": {}}, "n"),
    ("{{if or .A .B}}y{{end}}", {"A": None, "B": [0]}, "y"),
    ("{{if $x := .A}}{{$x}}{{end}}", {"A": "bound"}, "bound"),
    # with
    ("{{with .A}}{{.}}{{else}}empty{{end}}", {"A": ""}, "empty"),
    ("{{with .A}}{{.}}{{else with .B}}b={{.}}{{else}}none{{end}}", {"A": 0, "B": 7}, "b=7"),
    ("{{with $x := .A}}{{$x}}{{.}}{{end}}", {"A": "v"}, "vv"),
    # range
    ("{{range .}}[{{.}}]{{end}}", [1, "two", None], "[1][two][<nil>]"),
    ("{{range $i, $e := .}}{{$i}}:{{$e}} {{end}}", ["a", "b"], "0:a 1:b "),
    ("{{range $e := .}}{{$e}}{{end}}", ["a", "b"], "ab"),
    ("{{range .}}{{.}}{{end}}", {"b": 2, "a": 1, "c": 3}, "123"),
    ("{{range $k, $v := .}}{{$k}}{{$v}}{{end}}", {"z": 1, "a": 2}, "a2z1"),
    ("{{range .}}x{{else}}empty{{end}}", [], "empty"),
    ("{{range .}}x{{else}}empty{{end}}", {}, "empty"),
    ("{{range .Missing}}x{{else}}empty{{end}}", {}, "empty"),
    ("{{range .}}x{{else}}empty{{end}}", None, "empty"),
    ("{{range .}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}", [1, 2, 3, 4], "12"),
    ("{{range .}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}", [1, 2, 3], "13"),
    ("{{range .}}{{range .}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}};{{end}}",
     [[1, 2, 3], [4]], "1;4;"),
    ("{{range 3}}{{.}}{{end}}", None, "012"),
    ("{{$i := 0}}{{range $i = .}}{{end}}{{$i}}", ["a", "b"], "b"),
    # define, template, block
    ('{{define "T"}}<{{.}}>{{end}}{{template "T" .A}}{{template "T" "lit"}}', {"A": 1},
     "<1><lit>"),
    ('{{template "T" .}}{{define "T"}}fwd {{.}}{{end}}', "ok", "fwd ok"),
    ('{{define "T"}}{{.}}{{end}}{{template "T"}}', "x", "<no value>"),
    ('{{block "B" .}}default {{.}}{{end}}', "v", "default v"),
    ('{{define "B"}} {{end}}{{block "B" .}}y{{end}}', "v", "y"),  # blank definitions yield
    ('{{define "R"}}{{if .}}{{.}}{{template "R" slice . 1}}{{end}}{{end}}{{template "R" .}}',
     [1, 2, 3], "[1 2 3][2 3][3]"),
    ('{{define "T"}}{{$}}{{end}}{{$x := 1}}{{template "T" 5}}', None, "5"),
]


@pytest.mark.parametrize("text,data,want", SYNTAX_CASES)
def test_syntax(text, data, want):
    assert render(text, data) == want


# -- builtin functions -------------------------------------------------------

FUNC_CASES = [
    ("{{and 1 0 2}}", None, "0"),
    ("{{and 1 2 3}}", None, "3"),
    ("{{or 0 \"\" 5}}", None, "5"),
    ("{{or 0 \"\"}}", None, ""),
    ("{{and .X .Y.Z}}", {"X": 0}, "0"),  # short-circuit: .Y.Z never evaluated
    ("{{or 1 (index .L 99)}}", {"L": []}, "1"),
    ("{{.A | and 1}}", {"A": "piped"}, "piped"),
    ("{{not 0}} {{not 1}} {{not .}}", [], "true false true"),
    ("{{len .}}", "héllo", "6"),  # Go's len counts bytes
    ("{{len .}}", {"a": 1}, "1"),
    ("{{index . 1}}", ["a", "b"], "b"),
    ("{{index . 1 0}}", [[1], [2, 3]], "2"),
    ('{{index . "a" "b"}}', {"a": {"b": "deep"}}, "deep"),
    ("{{index . 0}}", "abc", "97"),
    ('{{index . "nope"}}', {"a": 1}, "0"),
    ('{{index . "nope"}}', {"a": "s", "b": 1}, "<no value>"),
    ('{{index . "nope"}}', {"a": {"x": 1}}, "<nil>"),
    ("{{slice . 1 3}}", [1, 2, 3, 4], "[2 3]"),
    ("{{slice . 2}}", "hello", "llo"),
    ("{{slice .}}", [1], "[1]"),
    ('{{print "a" "b" 1 2 "c" true 3}}', None, "ab1 2ctrue 3"),
    ('{{println "a" 1}}', None, "a 1\n"),
    ("{{print nil}}", None, "<nil>"),
    ('{{eq .A "x"}} {{eq .A "y" "x"}} {{eq 1 2}}', {"A": "x"}, "true true false"),
    ("{{eq .A nil}} {{eq .Missing nil}} {{eq .B \"s\"}}", {"A": None, "B": None},
     "true true false"),
    ('{{ne 1 2}} {{ne "a" "a"}}', None, "true false"),
    ('{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 2.5}}', None, "true true true false"),
    # JSON decodes a float64 field holding 2 as an int: numbers compare across int/float
    ("{{eq .X 2.0}} {{lt .X 2.5}} {{printf \"%.1f\" .X}}", {"X": 2}, "true true 2.0"),
    ('{{html "<a href=\\"x\\">&\'"}}', None, "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"),
    ("{{js .}}", "<a b='c' \"d\"=\\\n>",
     '\\u003Ca b\\u003D\\\'c\\\' \\"d\\"\\u003D\\\\\\u000A\\u003E'),
    ('{{urlquery "a b&c=d/é~"}}', None, "a+b%26c%3Dd%2F%C3%A9~"),
    ('{{json "<&>"}}', None, '"<&>"'),  # docker/cli turns HTML escaping off
    ('{{json "tab\\there\\u2028"}}', None, '"tab\\there\\u2028"'),
    ("{{json .}}", {"f": 1.0, "g": 1e21, "h": 1e-7, "i": 0.000001, "j": 12345678.5},
     '{"f":1,"g":1e+21,"h":1e-7,"i":0.000001,"j":12345678.5}'),
    ("{{json .}}", [None, True, "é"], '[null,true,"é"]'),
    ('{{title "ǆemo_x 1a straße"}}', None, "ǅemo_x 1a Straße"),
    ('{{upper "straße"}}', None, "STRAßE"),
    ('{{join . ", "}}', ["a", "b"], "a, b"),
    ('{{join .Missing ","}}', {}, ""),
]


@pytest.mark.parametrize("text,data,want", FUNC_CASES)
def test_functions(text, data, want):
    assert render(text, data) == want


def test_custom_funcs_add_and_override():
    funcs = {"double": lambda x: x * 2, "upper": lambda s: "custom:" + s}
    assert render("{{double 21}} {{upper .}}", "a", funcs) == "42 custom:a"
    assert render("{{.Missing | double}}", {}, {"double": lambda x: repr(x)}) == "None"


class Row:
    """A formatter row, as docker ps builds one: a Go struct with methods."""

    Names = "web"

    def __init__(self):
        self._labels = {"app": "web"}

    def ID(self):
        return "abc"

    def Label(self, key):
        return self._labels.get(key, "")


def test_objects_are_structs():
    assert render('{{.Label "app"}}|{{.ID}}|{{.Label "none"}}|{{.Names}}', Row()) == "web|abc||web"
    assert render('{{"app" | .Label}}', Row()) == "web"
    assert error_of("{{.Nope}}", Row()) == (
        'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type Row')
    assert error_of("{{._labels}}", Row()).endswith("can't evaluate field _labels in type Row")
    assert error_of('{{.Names "x"}}', Row()).endswith(
        "Names has arguments but cannot be invoked as function")


def test_funcs_in_maps_are_values():
    # Go calls methods, not func-valued map entries: those are for call
    assert render("{{call .F 2 3}}", {"F": lambda a, b: a * b}) == "6"


# -- printf: Go's fmt verbs --------------------------------------------------

PRINTF_CASES = [
    ("%s|%v|%d", ("a", "b", 3), "a|b|3"),
    ("%q", ("say \"hi\"\n",), '"say \\"hi\\"\\n"'),
    ("%t %v", (True, False), "true false"),
    ("%x %X %o %b %#x %#o", (255, 255, 8, 5, 255, 8), "ff FF 10 101 0xff 010"),
    ("%x", ("hi",), "6869"),
    ("%f %.2f %.0f %e %g", (3.14159, 3.14159, 2.5, 1234.5678, 0.000012),
     "3.141590 3.14 2 1.234568e+03 1.2e-05"),
    ("%5d|%-5d|%05d|%+d|% d", (42, 42, -42, 5, 5), "   42|42   |-0042|+5| 5"),
    ("%8.3f|%-8.2f|%08.3f", (3.14159, 2.5, -3.14159), "   3.142|2.50    |-003.142"),
    ("%-10s|%10s|%.2s", ("ab", "cd", "xyz"), "ab        |        cd|xy"),
    ("%c %q %U", (65, 97, 0x1F600), "A 'a' U+1F600"),
    ("%%|%5%", (), "%|%"),
    ("%v %d", ([1, 2], [3, 4]), "[1 2] [3 4]"),
    ("%v", ({"b": 1, "a": [True]},), "map[a:[true] b:1]"),
    ("%s", (["a", "b"],), "[a b]"),
    ("%q", (["a", "b"],), '["a" "b"]'),
    ("%+v %#v", (7, "s"), '7 "s"'),
    ("%#v", ([1, "a", None],), '[]interface {}{1, "a", interface {}(nil)}'),
    ("%T %T %T %T %T", (1, 1.5, "s", [1], None), "int float64 string []interface {} <nil>"),
    ("%d", ("str",), "%!d(string=str)"),
    ("%s", (5,), "%!s(int=5)"),
    ("%d", (None,), "%!d(<nil>)"),
    ("%s %s", ("only",), "only %!s(MISSING)"),
    ("%s", ("a", 1, None), "a%!(EXTRA int=1, <nil>)"),
    ("%", (), "%!(NOVERB)"),
    ("%*d|%-*d|%.*f", (4, 7, 3, 8, 1, 2.25), "   7|8  |2.2"),
    ("%[2]s %[1]s", ("a", "b"), "b a"),
    ("%6.2v|%v|%G", (3.14159, 1e6, 1e-10), "   3.1|1e+06|1E-10"),
    ("%v %f", (float("inf"), float("-inf")), "+Inf -Inf"),
]


@pytest.mark.parametrize("fmt,args,want", PRINTF_CASES)
def test_printf(fmt, args, want):
    assert render('{{printf .F ' + " ".join(".A%d" % i for i in range(len(args))) + "}}",
                  {"F": fmt, **{"A%d" % i: a for i, a in enumerate(args)}}) == want


# -- errors, worded as Go words them ------------------------------------------

PARSE_ERRORS = [
    ("{{.Foo}", 'template: :1: unexpected "}" in operand'),
    ("{{.Foo", "template: :1: unclosed action"),
    ("{{", "template: :1: unclosed action"),
    ("{{.A\n\n", "template: :3: unclosed action started at :1"),
    ("a\nb\n{{if .A}}x", "template: :3: unexpected EOF"),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{else}}", "template: :1: unexpected {{else}}"),
    ("{{}}", "template: :1: missing value for command"),
    ("{{if}}{{end}}", "template: :1: missing value for if"),
    ("{{foo 1}}", 'template: :1: function "foo" not defined'),
    ("{{$x}}", 'template: :1: undefined variable "$x"'),
    ("{{if true}}{{$x := 1}}{{end}}{{$x}}", 'template: :1: undefined variable "$x"'),
    ("{{break}}", "template: :1: {{break}} outside {{range}}"),
    ("{{range .}}{{continue 1}}{{end}}", 'template: :1: unexpected "1" in {{continue}}'),
    ("{{.A | 1}}", "template: :1: non executable command in pipeline stage 2"),
    ('{{"s".Field}}', 'template: :1: unexpected . after term "\\"s\\""'),
    ("{{(.A}}", "template: :1: unclosed left paren"),
    ("{{.A)}}", 'template: :1: unexpected ")" in command'),
    ('{{"abc}}', "template: :1: unterminated quoted string"),
    ("{{`abc}}", "template: :1: unterminated raw quoted string"),
    ('{{"\\q"}}', "template: :1: invalid syntax"),
    ("{{0x}}", 'template: :1: illegal number syntax: "0x"'),
    ("{{1.2.3}}", 'template: :1: unexpected ".3" in operand'),
    ("{{3x}}", 'template: :1: bad number syntax: "3x"'),
    ("{{'ab'}}", "template: :1: malformed character constant: 'ab'"),
    ("{{/* open", "template: :1: unclosed comment"),
    ("{{/* c */ .A}}", "template: :1: comment ends before closing delimiter"),
    ("{{.A €}}", "template: :1: unrecognized character in action: U+20AC '€'"),
    ("{{.A é}}", 'template: :1: function "é" not defined'),
    ("{{.A-B}}", "template: :1: bad character U+002D '-'"),
    ("{{$x := 1}}{{$x :}}", "template: :1: expected :="),
    ('{{define "T"}}a{{end}}{{define "T"}}b{{end}}',
     'template: :1: template: multiple definition of template "T"'),
    ("{{range $i, 1 := .}}{{end}}", "template: :1: range can only initialize variables"),
    ("{{with $a, $b := .}}{{end}}", "template: :1: too many declarations in with"),
    ("{{if .A}}\n{{else}}\n{{else}}\n{{end}}", "template: :3: expected end; found {{else}}"),
    ("{{template .Name}}", 'template: :1: unexpected ".Name" in template clause'),
    ("line1\n{{.A\n.B | 1}}", "template: :3: non executable command in pipeline stage 2"),
    ('{{define "B"}}x{{end}}{{block "B" .}}y{{end}}',
     'template: :1: template: multiple definition of template "B"'),
    ('{{"unterminated\n}}', "template: :1: unterminated quoted string"),
]


@pytest.mark.parametrize("text,want", PARSE_ERRORS)
def test_parse_errors(text, want):
    with pytest.raises(TemplateError) as info:
        parse(text)
    assert str(info.value) == want


EXEC_ERRORS = [
    ("{{.State.Foo.Bar}}", {"State": {"Foo": None}},
     'template: :1:8: executing "" at <.State.Foo.Bar>: nil pointer evaluating interface {}.Bar'),
    ("{{.Name.First}}", {"Name": "web"},
     'template: :1:7: executing "" at <.Name.First>: can\'t evaluate field First in type string'),
    ("x\n  {{.A.B}}", {"A": [1]},
     'template: :2:6: executing "" at <.A.B>: can\'t evaluate field B in type []interface {}'),
    ("{{range .Name}}{{end}}", {"Name": "web"},
     'template: :1:8: executing "" at <.Name>: range can\'t iterate over web'),
    ("{{index .L 5}}", {"L": [1]},
     'template: :1:2: executing "" at <index .L 5>: error calling index: index out of range: 5'),
    ('{{index .M 1}}', {"M": {"a": 1}},
     'template: :1:2: executing "" at <index .M 1>: error calling index: '
     "value has type int; should be string"),
    ("{{len 3}}", None,
     'template: :1:2: executing "" at <len 3>: error calling len: len of type int'),
    ("{{len .X}}", {"X": None},
     'template: :1:2: executing "" at <len .X>: error calling len: len of nil pointer'),
    ('{{eq 1 "1"}}', None,
     'template: :1:2: executing "" at <eq 1 "1">: error calling eq: '
     "incompatible types for comparison: int and string"),
    ("{{eq .L .L}}", {"L": [1]},
     'template: :1:2: executing "" at <eq .L .L>: error calling eq: '
     "non-comparable type [1]: []interface {}"),
    ("{{lt true false}}", None,
     'template: :1:2: executing "" at <lt true false>: error calling lt: '
     "invalid type for comparison"),
    # a constant is checked against the parameter as Go's evalString/evalInteger do
    # (docker 28.2.2 ps --format); a computed value by validateType
    ("{{upper 1}}", None, 'template: :1:8: executing "" at <1>: expected string; found 1'),
    ("{{upper 'a'}}", None, "template: :1:8: executing \"\" at <'a'>: expected string; found 'a'"),
    ('{{pad "x" "a" 2}}', None,
     'template: :1:10: executing "" at <"a">: expected integer; found "a"'),
    ("{{truncate \"x\" true}}", None,
     'template: :1:15: executing "" at <true>: expected integer; found true'),
    ("{{upper .N}}", {"N": 1},
     'template: :1:8: executing "" at <.N>: wrong type for value; expected string; got int'),
    ("{{upper .Missing}}", {},
     'template: :1:8: executing "" at <.Missing>: invalid value; expected string'),
    ('{{join "a" ","}}', None,
     'template: :1:7: executing "" at <"a">: wrong type for value; expected []string; got string'),
    ("{{join .L \",\"}}", {"L": [1, 2]},
     'template: :1:7: executing "" at <.L>: wrong type for value; expected []string; '
     "got []interface {}"),
    ("{{upper}}", None,
     'template: :1:2: executing "" at <upper>: wrong number of args for upper: want 1 got 0'),
    ("{{and}}", None,
     'template: :1:2: executing "" at <and>: wrong number of args for and: want at least 1 got 0'),
    ('{{template "nope"}}', None,
     'template: :1:11: executing "" at <{{template "nope"}}>: template "nope" not defined'),
    ('{{define "T"}}{{.X.Y}}{{end}}{{template "T" .}}', {"X": 1},
     'template: :1:18: executing "T" at <.X.Y>: can\'t evaluate field Y in type int'),
    ("{{.A 1}}", {"A": 2},
     'template: :1:2: executing "" at <.A>: A is not a method but has arguments'),
    ("{{1 | .A}}", {"A": 2},
     'template: :1:6: executing "" at <.A>: A is not a method but has arguments'),
    ("{{$x := 1}}{{$x 2}}", None,
     'template: :1:13: executing "" at <$x>: can\'t give argument to non-function $x'),
    ("{{nil}}", None, 'template: :1:2: executing "" at <nil>: nil is not a command'),
    ("{{(nil).A}}", None, 'template: :1:3: executing "" at <nil>: nil is not a command'),
    ("{{call .F}}", {"F": "no"},
     'template: :1:2: executing "" at <call .F>: error calling call: non-function of type string'),
    ("{{boom}}", None,
     'template: :1:2: executing "" at <boom>: error calling boom: kaput'),
    ("{{truncate \"abc\" -1}}", None,
     'template: :1:2: executing "" at <truncate "abc" -1>: error calling truncate: '
     "slice bounds out of range [:-1]"),
    ("{{range $i, $e := 3}}{{end}}", None,
     'template: :1:18: executing "" at <3>: can\'t use 3 to iterate over more than one variable'),
]


def _boom():
    raise RuntimeError("kaput")


@pytest.mark.parametrize("text,data,want", EXEC_ERRORS)
def test_exec_errors(text, data, want):
    with pytest.raises(TemplateError) as info:
        render(text, data, {"boom": _boom})
    assert str(info.value) == want


def test_public_api_shape():
    t = parse("{{.}}")
    assert isinstance(t, Template)
    assert t.execute(1) == "1"
    assert t.execute("again") == "again"  # a template runs any number of times
    assert issubclass(TemplateError, Exception)


def test_recursion_is_bounded():
    with pytest.raises(TemplateError, match="exceeded maximum template depth"):
        render('{{define "L"}}{{template "L" .}}{{end}}{{template "L" .}}', 1)


def test_import_pulls_in_nothing_heavy():
    # the CLI imports this on every command
    code = ("import sys; before = set(sys.modules); import ketch.cli.format.gotemplate; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    added = out.stdout.split()
    assert "ketch.cli.format.gotemplate" in added
    assert [m for m in added if not m.startswith("ketch") and m != "math"] == []


# -- the plain-fields fast path gives exactly what the tree walk gives ------------------------
class _Row:
    def __init__(self, n):
        self.n = n
        self.plain_attr = "attr"

    @property
    def ID(self):
        return f"id{self.n}"

    @property
    def Count(self):
        return self.n

    def Name(self):
        return "name"

    def Label(self, key):
        return key


@pytest.mark.parametrize("text", [
    "{{.ID}}\t{{.Name}}", "x{{.Count}}y", "{{.ID}} {{.Label}}", "{{.Nope}}", "{{.plain_attr}}",
    "{{.ID}}{{- .Name -}} z", "{{ .ID }}", "{{.ID}}{{/* c */}}", "{{.a}}-{{.b}}",
])
@pytest.mark.parametrize("data", [_Row(3), {"a": "x", "b": 2}, {"a": "x", "b": "y"}, {}])
def test_plain_fields_match_the_tree_walk(text, data):
    fast = parse(text)
    slow = parse(text)
    slow._plain = None

    def run(t):
        try:
            return ("ok", t.execute(data))
        except TemplateError as exc:
            return ("error", str(exc))
    assert run(fast) == run(slow)


@pytest.mark.parametrize("text,plain", [
    ("{{.ID}}\t{{.Image}}", True), ("{{ .ID }} x", True), ("{{.A.B}}", False),
    ("{{json .}}", False), ("{{.ID | printf \"%s\"}}", False), ("{{$x := .ID}}", False),
    ("{{define \"t\"}}{{end}}{{.ID}}", False), ("{{if .ID}}y{{end}}", False),
])
def test_which_templates_take_the_plain_path(text, plain):
    assert (parse(text)._plain is not None) == plain


# -- what docker's commands need besides the language: Go structs, missingkey=error, names ----
from ketch.cli.format.gotemplate import NIL_MAP, NIL_SLICE, Struct  # noqa: E402


def test_struct_fields_and_errors():
    """A Struct is a Go struct from JSON: a field it lacks is an error naming its type,
    where a map (a plain dict) gives <no value>."""
    s = Struct({"Version": "1", "Inner": Struct({"A": 1}, "inner.T")}, "*pkg.T",
               tags={"Version": ("V", False)})
    assert render("{{.Version}} {{.Inner.A}}", s) == "1 1"
    assert error_of("{{.Nope}}", s) == (
        'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *pkg.T')
    assert error_of("{{.Inner.B}}", s).endswith("can't evaluate field B in type inner.T")
    assert render("{{json .}}", s) == '{"V":"1","Inner":{"A":1}}'
    assert render("{{.}}", s) == "{1 {1}}"  # text/template prints what a pointer points to
    assert render("{{.}}", [s]) == "[&{1 {1}}]"
    assert render("{{.nope}}", {"a": 1}) == "<no value>"


def test_embedded_structs_promote_and_inline():
    runtime = Struct({"Path": "runc", "Args": NIL_SLICE}, "system.Runtime",
                     tags={"Path": ("path", True), "Args": ("runtimeArgs", True)})
    s = Struct({"Runtime": runtime, "Status": NIL_MAP}, "system.RuntimeWithStatus",
               tags={"Status": ("status", True)}, embedded=("Runtime",))
    assert render("{{.Path}} {{.Runtime.Path}} {{.}}", s) == "runc runc {{runc []} map[]}"
    assert render("{{json .}}", s) == '{"path":"runc"}'
    assert error_of("{{.Nope}}", s).endswith("can't evaluate field Nope in type system.RuntimeWithStatus")


def test_struct_json_omitempty():
    s = Struct({"A": "", "B": 0, "C": NIL_SLICE, "D": "x", "E": NIL_MAP}, "T",
               tags={"A": ("A", True), "B": ("b", True), "C": ("C", True), "E": ("E", False)})
    assert render("{{json .}}", s) == '{"D":"x","E":null}'


def test_nil_slices_and_maps_print_empty_and_marshal_null():
    data = {"S": NIL_SLICE, "M": NIL_MAP}
    assert render("{{.S}} {{.M}} {{len .S}} {{if .S}}y{{else}}n{{end}}", data) == "[] map[] 0 n"
    assert render("{{json .S}} {{json .M}}", data) == "null null"


def test_missing_key_error_option():
    """Go's Option("missingkey=error"), which docker inspect's raw fallback sets."""
    t = parse("{{.State.Nope}}")
    assert t.execute({"State": {}}) == "<no value>"
    with pytest.raises(TemplateError) as info:
        t.execute({"State": {}}, missing_key_error=True)
    assert str(info.value) == \
        'template: :1:8: executing "" at <.State.Nope>: map has no entry for key "Nope"'
    with pytest.raises(TemplateError, match='map has no entry for key "State"'):
        t.execute({}, missing_key_error=True)


def test_template_name_in_errors():
    """docker version's template is named "version" and its errors say so."""
    with pytest.raises(TemplateError) as info:
        parse("{{.Client.Version", name="version")
    assert str(info.value) == "template: version:1: unclosed action"
    with pytest.raises(TemplateError) as info:
        parse("a{{.Nope}}", name="version").execute(Struct({}, "system.versionInfo"))
    assert str(info.value) == ('template: version:1:3: executing "version" at <.Nope>: '
                               "can't evaluate field Nope in type system.versionInfo")


def test_failed_execution_keeps_what_was_written():
    """Go's Execute writes as it goes: docker version prints the part before an error."""
    with pytest.raises(TemplateError) as info:
        parse("a{{.X}}b{{.Nope}}c").execute(Struct({"X": 1}, "T"))
    assert info.value.output == "a1b"


def test_objects_name_their_go_type_and_marshal_themselves():
    class Ctx:
        GO_TYPE = "*formatter.ContainerContext"

        def _go_marshal_json(self):
            return '{"ID":"x"}'
    assert render("{{json .}}", Ctx()) == '{"ID":"x"}'
    assert render("{{json .}}", [Ctx()]) == '[{"ID":"x"}]'
    assert error_of("{{.Nope}}", Ctx()).endswith(
        "can't evaluate field Nope in type *formatter.ContainerContext")


def test_a_struct_is_not_a_map_for_range_len_or_index():
    """Go ranges, measures and indexes maps, never structs (docker inspect then falls back
    to the raw JSON map, whose keys are only those the daemon sent)."""
    from ketch.cli.format.gotemplate.values import Struct
    data = {"S": Struct({"A": 1, "B": 2}, "types.State")}
    for text, message in (("{{range $k, $v := .S}}{{$k}}{{end}}", "range can't iterate over"),
                          ("{{len .S}}", "len of type"), ('{{index .S "A"}}', "can't index item of type")):
        with pytest.raises(TemplateError, match=message):
            parse(text).execute(data)
    assert parse("{{range $k, $v := .M}}{{$k}}{{end}}").execute({"M": {"b": 1, "a": 2}}) == "ab"
