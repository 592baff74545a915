"""Platform specifiers ("linux/amd64", "arm64", "linux/arm/v7"), as containerd's platforms
package parses, normalises and prints them."""

import os
from dataclasses import dataclass

from ketch.errors import InvalidArgument

_ARCH = {"i386": "386", "x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64",
         "armhf": "arm", "armel": "arm"}
_ARCH_VARIANT = {"armhf": "v7", "armel": "v6"}
KNOWN_OS = ("aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
            "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos")
KNOWN_ARCH = ("386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
              "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
              "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm")


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, other: "Platform") -> bool:
        """The same OS and architecture; a variant only counts when both name one."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        return not (self.variant and other.variant) or self.variant == other.variant


def host_arch() -> str:
    machine = os.uname().machine
    return _ARCH.get(machine, machine)


def _arch(name: str, variant: str) -> tuple[str, str]:
    name = name.lower()
    variant = variant or _ARCH_VARIANT.get(name, "")
    arch = _ARCH.get(name, name)
    if arch == "arm64" and variant in ("v8", "8"):
        variant = ""
    return arch, variant


def parse(spec: str) -> Platform:
    parts = spec.split("/")
    if "*" in spec or not all(parts):
        raise InvalidArgument(f'"{spec}": cannot parse platform specifier: invalid argument')
    if len(parts) == 1:
        name = parts[0].lower()
        if name in KNOWN_OS:
            return Platform(name, host_arch())
        arch, variant = _arch(name, "")
        if arch in KNOWN_ARCH:
            return Platform("linux", arch, variant)
        raise InvalidArgument(f'"{spec}": unknown operating system or architecture: invalid argument')
    if len(parts) > 3:
        raise InvalidArgument(f'"{spec}": cannot parse platform specifier: invalid argument')
    arch, variant = _arch(parts[1], parts[2] if len(parts) == 3 else "")
    return Platform(parts[0].lower(), arch, variant)
