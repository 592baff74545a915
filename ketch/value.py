"""``Value``: a small immutable record for the runtime's hot path.

The runtime's command line starts once per step of a container's life and competes
with runc on start-up time. ``dataclasses`` (which imports ``inspect`` and ``ast``) and
``collections.namedtuple`` (which compiles code per class) cost milliseconds there; a
class with ``__slots__`` and one shared constructor costs nothing to import or define.
Subclasses name their fields in ``FIELDS`` (also their ``__slots__``) and give the
defaults of the trailing ones in ``DEFAULTS``.
"""


class Value:
    __slots__ = ()
    FIELDS: tuple = ()
    DEFAULTS: dict = {}

    def __init__(self, *args, **kwargs) -> None:
        fields = self.FIELDS
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__}() takes {len(fields)} arguments")
        setter = object.__setattr__
        for name, value in zip(fields, args):
            setter(self, name, value)
        for name in fields[len(args):]:
            if name in kwargs:
                value = kwargs.pop(name)
            elif name in self.DEFAULTS:
                value = self.DEFAULTS[name]
            else:
                raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
            setter(self, name, value)
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected {sorted(kwargs)}")

    def __setattr__(self, name, value) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple:
        return tuple(getattr(self, f) for f in self.FIELDS)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.FIELDS)
        return f"{type(self).__name__}({inner})"

    def replace(self, **changes) -> "Value":
        return type(self)(**{f: changes.get(f, getattr(self, f)) for f in self.FIELDS})
