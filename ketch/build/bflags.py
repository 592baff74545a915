"""An instruction's ``--flags``: buildkit's ``BFlags``, with the texts dockerd 20.10 says.

    flags = BFlags(node.flags)
    chown = flags.string("chown"); link = flags.bool("link"); excludes = flags.strings("exclude")
    flags.parse()        # Unknown flag: x / Duplicate flag specified: x / Missing a value on flag: x

A string flag needs ``=value`` (it may be empty), a bool flag takes nothing, ``=true`` or
``=false``, a strings flag may be repeated; ``--`` ends the flags.
"""

from ketch.errors import InvalidArgument


class BFlags:
    def __init__(self, args: tuple[str, ...] | list[str]):
        self.args = list(args)
        self._kinds: dict[str, str] = {}
        self._values: dict[str, object] = {}
        self.used: list[str] = []

    def string(self, name: str, default: str = "") -> None:
        self._kinds[name], self._values[name] = "string", default

    def bool(self, name: str) -> None:
        self._kinds[name], self._values[name] = "bool", False

    def strings(self, name: str) -> None:
        self._kinds[name], self._values[name] = "strings", []

    def __getitem__(self, name: str):
        value = self._values[name]
        return tuple(value) if isinstance(value, list) else value

    def parse(self) -> "BFlags":
        for arg in self.args:
            if not arg.startswith("--"):
                raise InvalidArgument(f"Arg should start with -- : {arg}")
            if arg == "--":
                break
            name, eq, value = arg[2:].partition("=")
            kind = self._kinds.get(name)
            if kind is None:
                raise InvalidArgument(f"Unknown flag: {name}")
            if name in self.used and kind != "strings":
                raise InvalidArgument(f"Duplicate flag specified: {name}")
            self.used.append(name)
            if kind == "bool":
                if eq and not value:
                    raise InvalidArgument(f"Missing a value on flag: {name}")
                if value.lower() not in ("", "true", "false"):
                    raise InvalidArgument(f"Expecting boolean value for flag {name}, not: {value}")
                self._values[name] = value.lower() != "false"
            elif not eq:
                raise InvalidArgument(f"Missing a value on flag: {name}")
            elif kind == "strings":
                self._values[name].append(value)
            else:
                self._values[name] = value
        return self
