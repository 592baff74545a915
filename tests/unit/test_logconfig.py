"""ketch.engine.logconfig and the LogConfig rows of unsupported.py: moby's checks of a
container's logging driver and options, with moby's messages (daemon/logger's
ValidateLogOpts at create, jsonfilelog.New's parsing at start)."""

import pytest

from ketch.engine import logconfig, unsupported
from ketch.monitor.protocol import LogSpec
from ketch.errors import InvalidArgument


@pytest.mark.parametrize("given,want", [
    (None, {"Type": "json-file", "Config": {}}),
    ({"Type": "", "Config": None}, {"Type": "json-file", "Config": {}}),
    ({"Type": "none", "Config": {}}, {"Type": "none", "Config": {}}),
    ({"Type": "json-file", "Config": {"max-size": "1m"}}, {"Type": "json-file", "Config": {"max-size": "1m"}}),
])
def test_normalize_fills_in_the_default_driver(given, want):
    assert logconfig.normalize(given) == want


def test_normalize_merges_the_daemons_default_options_for_its_driver():
    defaults = {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}
    assert logconfig.normalize({"Config": {"max-file": "5"}}, defaults) == {
        "Type": "json-file", "Config": {"max-file": "5", "max-size": "10m"}}
    assert logconfig.normalize({"Type": "none"}, defaults) == {"Type": "none", "Config": {}}


@pytest.mark.parametrize("config,message", [
    ({"Type": "bogus", "Config": {}}, 'error looking up logging plugin bogus: plugin "bogus" not found'),
    ({"Type": "json-file", "Config": {"nope": "1"}}, "unknown log opt 'nope' for json-file log driver"),
    ({"Type": "json-file", "Config": {"mode": "fast"}}, "logger: logging mode not supported: fast"),
])
def test_validate_refuses_with_mobys_words(config, message):
    with pytest.raises(InvalidArgument) as exc:
        logconfig.validate(config)
    assert str(exc.value) == message


@pytest.mark.parametrize("config", [
    {"Type": "json-file", "Config": {}},
    {"Type": "json-file", "Config": {"max-size": "bogus"}},  # values are checked at start
    {"Type": "none", "Config": {"anything": "x"}},  # moby checks nothing for none
])
def test_validate_accepts(config):
    logconfig.validate(config)


@pytest.mark.parametrize("opts,want", [
    ({}, LogSpec()),
    ({"max-size": "10m", "max-file": "3"}, LogSpec("json-file", 10_000_000, 3, False)),
    ({"max-size": "1k"}, LogSpec("json-file", 1000, 1, False)),
    ({"max-file": "3"}, LogSpec("json-file", -1, 3, False)),  # no size: never rotated, as in moby
    # go-units FromHumanSize: decimal, whatever the suffix says
    ({"max-size": "2MiB", "max-file": "2", "compress": "true"}, LogSpec("json-file", 2_000_000, 2, True)),
    ({"compress": "false"}, LogSpec()),
])
def test_settings(opts, want):
    assert logconfig.settings({"Type": "json-file", "Config": opts}) == want


def test_settings_of_none():
    assert logconfig.settings({"Type": "none", "Config": {}}) == LogSpec("none")


@pytest.mark.parametrize("opts,message", [
    ({"max-size": "bogus"}, "invalid size: 'bogus'"),
    ({"max-size": "10x"}, "invalid suffix: 'x'"),
    ({"max-size": "0"}, "max-size must be a positive number"),
    ({"max-file": "x"}, 'strconv.Atoi: parsing "x": invalid syntax'),
    ({"max-file": "0"}, "max-file cannot be less than 1"),
    ({"compress": "yes"}, 'strconv.ParseBool: parsing "yes": invalid syntax'),
    ({"compress": "true"}, "compress cannot be true when max-file is less than 2 or max-size is not set"),
    ({"compress": "true", "max-size": "1m"}, "compress cannot be true when max-file is less than 2 or max-size is not set"),
    ({"compress": "true", "max-file": "3"}, "compress cannot be true when max-file is less than 2 or max-size is not set"),
])
def test_settings_refuse_bad_values_with_mobys_words(opts, message):
    with pytest.raises(InvalidArgument) as exc:
        logconfig.settings({"Type": "json-file", "Config": opts})
    assert str(exc.value) == message


@pytest.mark.parametrize("driver", ["syslog", "journald", "gelf", "fluentd", "awslogs", "splunk",
                                    "etwlogs", "gcplogs", "logentries"])
def test_dockers_other_drivers_are_refused_by_name(driver):
    with pytest.raises(InvalidArgument) as exc:
        unsupported.check_create({"Image": "x", "HostConfig": {"LogConfig": {"Type": driver}}})
    assert str(exc.value) == (f'HostConfig.LogConfig.Type "{driver}" (--log-driver) '
                              "is not supported by this version of ketch")


@pytest.mark.parametrize("key", ["tag", "labels", "env", "env-regex", "labels-regex", "mode", "max-buffer-size"])
def test_json_file_options_ketch_does_not_write_are_refused(key):
    body = {"Image": "x", "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-size": "1m", key: "v"}}}}
    with pytest.raises(InvalidArgument) as exc:
        unsupported.check_create(body)
    assert str(exc.value) == (f'HostConfig.LogConfig.Config "{key}" (--log-opt) '
                              "is not supported by this version of ketch")


@pytest.mark.parametrize("log_config", [
    None, {"Type": "", "Config": {}}, {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}},
    {"Type": "none", "Config": {}}, {"Type": "bogus", "Config": {"nope": "1"}},
    {"Type": "local", "Config": {"max-size": "1m", "max-file": "2", "compress": "false"}}])
def test_what_ketch_does_passes_the_refusals(log_config):
    unsupported.check_create({"Image": "x", "HostConfig": {"LogConfig": log_config}})


# -- the daemon's default (daemon.json log-driver/log-opts, ketchd --log-driver/--log-opt) --

def _daemon(tmp_path, doc=None, *flags):
    import json
    from ketch.daemon import config
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(doc or {}))
    return config.load(["--config-file", str(path), *flags])[0].log_config


def test_the_daemons_default_log_config(tmp_path):
    assert _daemon(tmp_path) == {"Type": "json-file", "Config": {}}
    assert _daemon(tmp_path, {"log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}}) == {
        "Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}
    assert _daemon(tmp_path, {"log-opts": {"max-size": "10m"}}, "--log-opt", "max-file=2") == {
        "Type": "json-file", "Config": {"max-size": "10m", "max-file": "2"}}
    assert _daemon(tmp_path, {}, "--log-driver", "none") == {"Type": "none", "Config": {}}


@pytest.mark.parametrize("doc,message", [
    ({"log-driver": "syslog"}, 'log-driver "syslog" is not supported by this version of ketch'),
    ({"log-driver": "bogus"}, 'error looking up logging plugin bogus: plugin "bogus" not found'),
    ({"log-opts": {"max-size": "x"}}, "invalid size: 'x'"),
    ({"log-opts": {"nope": "1"}}, "unknown log opt 'nope' for json-file log driver"),
    ({"log-driver": "none", "log-opts": {"max-size": "1m"}}, "invalid logging opts for driver none"),
])
def test_a_bad_daemon_default_stops_the_daemon(tmp_path, doc, message):
    with pytest.raises(InvalidArgument) as exc:
        _daemon(tmp_path, doc)
    assert str(exc.value) == message


def test_monitor_spec_fails_the_start_as_moby_does():
    from ketch.errors import Internal
    from ketch.monitor.protocol import LogSpec
    assert logconfig.monitor_spec({"Type": "json-file", "Config": {"max-size": "1k", "max-file": "2"}}) == \
        LogSpec("json-file", 1000, 2, False)
    with pytest.raises(Internal) as exc:
        logconfig.monitor_spec({"Type": "json-file", "Config": {"max-size": "x"}})
    assert str(exc.value) == ("failed to create task for container: failed to initialize logging driver: "
                              "invalid size: 'x'")


# -- the local driver (moby's daemon/logger/local: LogOptKeys, newConfig, validateConfig) --

def test_validate_local_options():
    logconfig.validate({"Type": "local", "Config": {"max-size": "1m", "max-file": "2", "compress": "x"}})
    with pytest.raises(InvalidArgument) as exc:
        logconfig.validate({"Type": "local", "Config": {"max-size": "1m", "nope": "1"}})
    assert str(exc.value) == "unknown log opt 'nope' for log driver local"


@pytest.mark.parametrize("opts,want", [
    ({}, LogSpec("local", 20 * 1024 * 1024, 5, True)),  # 20 MiB, 5 files, compressed
    ({"max-size": "10k", "max-file": "3", "compress": "false"}, LogSpec("local", 10_000, 3, False)),
    ({"max-file": "1", "compress": "false"}, LogSpec("local", 20 * 1024 * 1024, 1, False)),
    ({"max-file": "0", "compress": "0"}, LogSpec("local", 20 * 1024 * 1024, 1, False)),
    ({"max-size": "0"}, LogSpec("local", 1, 5, True)),
])
def test_local_settings(opts, want):
    assert logconfig.settings({"Type": "local", "Config": opts}) == want


@pytest.mark.parametrize("opts,message", [
    ({"max-size": "huge"}, "invalid value for max-size: huge: invalid size: 'huge'"),
    ({"max-file": "x"}, 'invalid value for max-file: x: strconv.Atoi: parsing "x": invalid syntax'),
    ({"max-file": "-1"}, "max-file must not be negative"),
    ({"compress": "maybe"}, 'invalid boolean value for compress: strconv.ParseBool: parsing "maybe": invalid syntax'),
    ({"max-file": "1"}, "compression cannot be enabled when max file count is 1"),
])
def test_local_settings_refuse_bad_values_with_mobys_words(opts, message):
    with pytest.raises(InvalidArgument) as exc:
        logconfig.settings({"Type": "local", "Config": opts})
    assert str(exc.value) == message
