"""interpolate: compose-go's template cases (substitution, defaults, errors, nesting) and the
document walk with its casts and error texts."""

import pytest

from ketch.compose.errors import LoadError
from ketch.compose.loader.interpolate import InvalidTemplate, MissingRequired, interpolate, substitute

ENV = {"FOO": "first", "BAR": "", "JSON": '{"json":2}'}


def sub(text, env=ENV):
    warnings = []
    return substitute(text, env.get, warnings.append), warnings


@pytest.mark.parametrize("template,expected", [
    ("$${foo}", "${foo}"), ("foo", "foo"),
    ("a $ string", "a $ string"), ("^REGEX$", "^REGEX$"), ("$}", "$}"), ("$", "$"),
    ("$FOO-bar", "first-bar"), ("This $FOO var", "This first var"), ("This ${FOO} var", "This first var"),
    ("ok ${missing:-def}", "ok def"), ("ok ${missing-def}", "ok def"),
    ("ok ${BAR:-def}", "ok def"), ("ok ${FOO:-def}", "ok first"), ("ok ${BAR-def}", "ok "),
    ("ok ${UNSET_VAR:+presence_value}", "ok "), ("ok ${UNSET_VAR+presence_value}", "ok "),
    ("ok ${FOO:+presence_value}", "ok presence_value"), ("ok ${FOO+presence_value}", "ok presence_value"),
    ("ok ${BAR+presence_value}", "ok presence_value"), ("ok ${BAR:+presence_value}", "ok "),
    ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),
    ("-ok ${BAR:-defaultValue}", "-ok defaultValue"), ("+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
    (":-ok ${UNSET-defaultValue}", ":-ok defaultValue"), (":?ok ${BAR:-defaultValue}", ":?ok defaultValue"),
    ("ok ${UNSET_VAR-$FOO}", "ok first"), ("ok ${UNSET_VAR-${FOO}}", "ok first"),
    ("ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"), ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
    ("ok ${BAR+$FOO ${FOO:+second}}", "ok first second"),
    ("ok ${FOO:?err}", "ok first"), ("ok ${FOO?err}", "ok first"), ("ok ${BAR?err}", "ok "),
    ("${UNSET_VAR-myerror?msg}", "myerror?msg"), ("${FOO?bar-baz}", "first"),
    ("ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first"),
    ('ok ${missing:-{"json":1}}', 'ok {"json":1}'), ('ok ${missing-{"json":1}}', 'ok {"json":1}'),
    ('ok ${JSON:-{"json":1}}', 'ok {"json":2}'),
    ("${A:-${B:-${FOO}}}/x ${FOO}", "first/x first"), ("$$FOO $$$FOO", "$FOO $first"),
    ("{{{ ${NO:-foo_} }}}", "{{{ foo_ }}}"), ("{{{ ${NO:-foo?bar?value} }}}", "{{{ foo?bar?value }}}"),
    ("{{{ ${NO:-foo:?bar:?value} }}}", "{{{ foo:?bar:?value }}}"),
    ("{{{ ${NO:-foo} ${BAR:-DEFAULT_VALUE} }}}", "{{{ foo DEFAULT_VALUE }}}"), ("${NO-baz} }}}", "baz }}}"),
    ("${NO:-${BAR:-${ZOT:-qix}}}", "qix"), ("${NO:-${BAR:-x}_test_${BAR:-y}}", "x_test_y"),
    ("${NO:-${BAR:-${ZOT:-x}}_test}", "x_test"), ("{{{ ${FOO:-foo} ${FOO:-bar} }}}", "{{{ first first }}}"),
])
def test_substitute(template, expected):
    assert sub(template)[0] == expected


@pytest.mark.parametrize("template", ["${", "${}", "${ }", "${ foo}", "${foo }", "${foo!}", "a ${b c} d"])
def test_invalid_template(template):
    with pytest.raises(InvalidTemplate) as info:
        sub(template)
    assert info.value.template == template
    assert str(info.value) == f'Invalid template: "{template}"'


@pytest.mark.parametrize("template,message", [
    ("not ok ${UNSET_VAR:?Mandatory Variable Unset}", "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"),
    ("not ok ${BAR:?Mandatory Variable Empty}", "required variable BAR is missing a value: Mandatory Variable Empty"),
    ("not ok ${UNSET_VAR:?}", "required variable UNSET_VAR is missing a value"),
    ("not ok ${UNSET_VAR?}", "required variable UNSET_VAR is missing a value"),
    ("not ok ${UNSET_VAR?Mandatory Variable ${FOO}}", "required variable UNSET_VAR is missing a value: Mandatory Variable first"),
    ("${UNSET_VAR?bar-baz}", "required variable UNSET_VAR is missing a value: bar-baz"),
    ("{{{ ${NO:?foo} ${BAR:-DEFAULT_VALUE} }}}", "required variable NO is missing a value: foo"),
    ("${NO:?foo} ${NO2:?bar}", "required variable NO is missing a value: foo"),
    ("${NO?baz} }}}", "required variable NO is missing a value: baz"),
])
def test_required(template, message):
    with pytest.raises(MissingRequired, match="^" + message.replace("$", r"\$") + "$"):
        sub(template)


def test_unset_variable_warns_once_per_use_and_lazily():
    assert sub("${MISSING} $MISSING")[1] == ['The "MISSING" variable is not set. Defaulting to a blank string.'] * 2
    assert sub("${FOO:+${MISSING},}B") == (",B", ['The "MISSING" variable is not set. Defaulting to a blank string.'])
    assert sub("${MISSING:+${OTHER},}B") == ("B", [])  # the alternative is not evaluated
    assert sub("${FOO?${OTHER}}") == ("first", [])
    assert sub("${BAR}") == ("", [])  # set, empty: no warning


def test_document_values_not_keys():
    doc = {"services": {"${FOO}": {"image": "img:${FOO}", "command": ["echo", "$$HOME", "${FOO:-x}"],
                                   "environment": {"A": None, "B": 1}}}}
    out = interpolate(doc, ENV.get, "/p/compose.yaml", warn=None)
    assert out == {"services": {"${FOO}": {"image": "img:first", "command": ["echo", "$HOME", "first"],
                                           "environment": {"A": None, "B": 1}}}}
    assert doc["services"]["${FOO}"]["image"] == "img:${FOO}"  # a copy


def test_casts_where_compose_go_casts():
    env = {"P": "true", "N": "3", "PORT": "80", "C": "0.5", "Y": "yes"}
    doc = {"services": {"web": {"privileged": "${P}", "scale": "${N}", "cpus": "${C}", "tty": "${Y}",
                                "ports": [{"target": "${PORT}"}], "image": "${N}",
                                "deploy": {"replicas": "${N}"}, "ulimits": {"nofile": {"soft": "${N}"}}}},
           "networks": {"n": {"external": "false"}}}
    warnings = []
    out = interpolate(doc, env.get, "f", warn=warnings.append)
    web = out["services"]["web"]
    assert web == {"privileged": True, "scale": 3, "cpus": 0.5, "tty": True, "ports": [{"target": 80}],
                   "image": "3", "deploy": {"replicas": 3}, "ulimits": {"nofile": {"soft": 3}}}
    assert out["networks"]["n"]["external"] is False
    assert warnings == ['"yes" for boolean is not supported by YAML 1.2, please use `true`']


@pytest.mark.parametrize("doc,message", [
    ({"services": {"web": {"image": "${TAG:?set TAG}"}}},
     "error while interpolating services.web.image: required variable TAG is missing a value: set TAG"),
    ({"services": {"web": {"environment": ["A=${X?}"]}}},
     "error while interpolating services.web.environment.[]: required variable X is missing a value"),
    ({"services": {"web": {"image": "a ${b c}"}}},
     "invalid interpolation format for services.web.image.\nYou may need to escape any $ with another $.\na ${b c}"),
    ({"services": {"web": {"privileged": "maybe"}}},
     "error while interpolating services.web.privileged: failed to cast to expected type: invalid boolean: maybe"),
    ({"services": {"web": {"scale": "two"}}},
     'error while interpolating services.web.scale: failed to cast to expected type: '
     'strconv.Atoi: parsing "two": invalid syntax'),
])
def test_document_errors(doc, message):
    with pytest.raises(LoadError) as info:
        interpolate(doc, {}.get, "f", warn=None)
    assert str(info.value) == message
