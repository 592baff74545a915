"""The flag checks several commands share (opts.ValidateLabel, FilterOpt's format): the
same words from every flag that uses them, in pflag's wrapping."""

import pytest

from ketch.cli import flags, runconfig
from ketch.cli.commands import network, volume
from ketch.cli.commonflags import validate_filter, validate_label


@pytest.mark.parametrize("item, message", [
    ("a=b", None), ("a", None), ("a=b c", None), ("  a=1", None),  # blanks before the name: trimmed
    ("=b", "invalid label '=b': empty name"),
    (" \t=b", "invalid label ' \t=b': empty name"),
    ("a b=c", "label 'a b' contains whitespaces"),
    ("a\tb", "label 'a\tb' contains whitespaces"),
])
def test_validate_label(item, message):
    if message is None:
        assert validate_label(item) == item
    else:
        with pytest.raises(ValueError) as exc:
            validate_label(item)
        assert str(exc.value) == message


@pytest.mark.parametrize("item, ok", [("a=b", True), ("a=", True), ("", True), ("a", False)])
def test_validate_filter(item, ok):
    if ok:
        assert validate_filter(item) == item
    else:
        with pytest.raises(ValueError, match=r"^bad format of filter \(expected name=value\)$"):
            validate_filter(item)


@pytest.mark.parametrize("command, args, flag", [
    (volume.CREATE, ["--label", "=b", "v"], "--label"),
    (network.CREATE, ["--label", "=b", "n"], "--label"),
])
def test_label_flags_share_the_check(command, args, flag):
    with pytest.raises(flags.UsageError) as exc:
        flags.parse(command, args)
    assert f'invalid argument "=b" for "{flag}" flag: invalid label \'=b\': empty name' in exc.value.text()


@pytest.mark.parametrize("command, args, flag", [
    (volume.LS, ["-f", "x"], "-f, --filter"),
    (volume.PRUNE, ["--filter", "x"], "--filter"),
    (network.LS, ["-f", "x"], "-f, --filter"),
    (network.PRUNE, ["--filter", "x"], "--filter"),
])
def test_filter_flags_share_the_check(command, args, flag):
    with pytest.raises(flags.UsageError) as exc:
        flags.parse(command, args)
    assert (f'invalid argument "x" for "{flag}" flag: bad format of filter (expected name=value)'
            in exc.value.text())


def test_run_label_is_checked_after_the_flags_with_the_same_words():
    opts, args = flags.parse(runconfig.CREATE, ["-l", "a b=c", "busybox"])
    with pytest.raises(runconfig.ConfigError) as exc:
        runconfig.build(opts, args, False)
    assert str(exc.value) == "invalid argument \"a b=c\" for \"-l, --label\" flag: label 'a b' contains whitespaces"
