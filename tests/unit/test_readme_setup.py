"""The README's two set-up commands run as written by root on a fresh Debian (no sudo
there), name executable scripts of this repository, and .ci/run runs the test one."""

import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def quick_start_commands() -> list[str]:
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_two_commands_without_sudo_naming_executable_scripts():
    commands = quick_start_commands()
    assert len(commands) == 2
    for command in commands:
        assert not command.startswith("sudo"), command
        script = os.path.join(REPO, command.split()[0])
        assert os.path.isfile(script) and os.access(script, os.X_OK), command


def test_ci_runs_the_readme_test_command():
    test_command = quick_start_commands()[1]
    with open(os.path.join(REPO, ".ci", "run"), encoding="utf-8") as f:
        assert test_command.lstrip("./") in f.read()
