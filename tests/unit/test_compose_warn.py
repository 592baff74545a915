"""One warning format for every compose warning (ACCEPT #6): logrus's, `WARN[0000] ...` on a
terminal and `time="..." level=warning msg="..."` otherwise, from the loader as from commands."""

import io
import re

from ketch.compose import errors
from ketch.compose.commands.lifecycle_util import warn as command_warn
from ketch.compose.loader import LoadOptions, load

PIPED = r'time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)" level=warning msg="a \\"b\\""\n'


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_terminal_and_piped():
    tty, piped = Tty(), io.StringIO()
    errors.warn('a "b"', tty)
    errors.warn('a "b"', piped)
    assert tty.getvalue() == 'WARN[0000] a "b"\n'
    assert re.fullmatch(PIPED, piped.getvalue())


def test_commands_and_loader_agree(tmp_path, capsys):
    class Ctx:
        err = io.StringIO()
    command_warn(Ctx, 'a "b"')
    errors.warn('a "b"')
    assert re.fullmatch(PIPED, Ctx.err.getvalue())
    assert re.fullmatch(PIPED, capsys.readouterr().err)
    (tmp_path / "compose.yaml").write_text("version: '3'\nservices:\n  web:\n    image: busybox\n")
    load(LoadOptions(files=[str(tmp_path / "compose.yaml")], environ={}, working_dir=str(tmp_path)))
    err = capsys.readouterr().err
    assert re.fullmatch(r'time="[^"]+" level=warning msg=".*the attribute `version` is obsolete.*"\n', err)
