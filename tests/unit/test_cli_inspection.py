"""CLI-side checks of export and container prune, in docker 28's words (no daemon needed)."""

import io
import os

import pytest

from ketch.cli.commands import inspection, prune
from ketch.cli.main import StatusError, main


def test_export_output_checks(tmp_path):
    inspection._check_output(str(tmp_path / "new.tar"))  # a new file beside existing ones
    (tmp_path / "old.tar").write_text("")
    inspection._check_output(str(tmp_path / "old.tar"))
    with pytest.raises(StatusError, match="^failed to export container: cannot write to a directory$"):
        inspection._check_output(str(tmp_path))
    with pytest.raises(StatusError, match="^failed to export container: cannot write to a character device file$"):
        inspection._check_output("/dev/null")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(StatusError, match=r"cannot write to a named pipe \(FIFO\)$"):
        inspection._check_output(str(tmp_path / "fifo"))
    with pytest.raises(StatusError, match="invalid output path: stat /nonexistent-x: no such file or directory$"):
        inspection._check_output("/nonexistent-x/a.tar")


@pytest.mark.parametrize("answer, yes", [("y\n", True), (" Y \n", True), ("yes\n", False), ("", False)])
def test_confirmation(monkeypatch, capsys, answer, yes):
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    assert prune.confirm(prune.CONTAINER_WARNING) is yes
    assert capsys.readouterr().out == ("WARNING! This will remove all stopped containers.\n"
                                       "Are you sure you want to continue? [y/N] ")


def test_prune_filter_flag_error_names_the_flag(capsys):
    assert main(["-H", "unix:///nonexistent.sock", "container", "prune", "--filter", "foo"]) == 125
    assert capsys.readouterr().err.strip() == ('invalid argument "foo" for "--filter" flag: '
                                               "bad format of filter (expected name=value)")
