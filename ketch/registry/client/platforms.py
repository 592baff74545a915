"""Which image of an index runs here: containerd's platforms matcher, as moby's pull uses
it (``platforms.Only``).

The wanted platform is normalised (``armhf`` -> arm/v7, ``aarch64`` -> arm64, arm without a
variant -> v7, arm64/v8 -> arm64) and expanded into the platforms that run on it, best
first: arm/v7 also runs v6 and v5; arm64 also runs arm/v8..v5; amd64/vN also runs lower
levels, and 386. The index entry matching the earliest of those wins.
"""

from ketch.errors import NotFound
from ketch.oci.platform import Platform, host_arch
from ketch.registry.client.manifest import Descriptor, ImageIndex


def normalize(platform: Platform) -> Platform:
    os_name = platform.os.lower()
    if os_name == "macos":
        os_name = "darwin"
    arch, variant = platform.architecture.lower(), platform.variant.lower()
    if arch == "i386":
        arch, variant = "386", ""
    elif arch in ("x86_64", "x86-64", "amd64"):
        arch = "amd64"
        variant = "" if variant == "v1" else variant
    elif arch in ("aarch64", "arm64"):
        arch = "arm64"
        variant = {"8": "", "v8": "", "v8.0": "", "9": "v9", "9.0": "v9", "v9.0": "v9"}.get(variant, variant)
    elif arch == "armhf":
        arch, variant = "arm", "v7"
    elif arch == "armel":
        arch, variant = "arm", "v6"
    elif arch == "arm":
        variant = {"": "v7", "7": "v7", "5": "v5", "6": "v6", "8": "v8"}.get(variant, variant)
    return Platform(os_name, arch, variant)


def _level(variant: str) -> int | None:
    text = variant[1:] if variant.startswith("v") else variant
    return int(text) if text.isdigit() else None


def compatible(platform: Platform) -> list[Platform]:
    """containerd's platformVector: what runs on ``platform``, best first."""
    platform = normalize(platform)
    out = [platform]
    level = _level(platform.variant)
    if platform.architecture == "amd64":
        if level and level > 1:
            out += [Platform(platform.os, "amd64", f"v{n}" if n > 1 else "") for n in range(level - 1, 0, -1)]
        out.append(Platform(platform.os, "386"))
    elif platform.architecture == "arm":
        if level and level > 5:
            out += [Platform(platform.os, "arm", f"v{n}") for n in range(level - 1, 4, -1)]
    elif platform.architecture == "arm64":
        out += compatible(Platform(platform.os, "arm", platform.variant or "v8"))
    return out


def default() -> Platform:
    return normalize(Platform("linux", host_arch()))


def format_platform(platform: Platform) -> str:
    return "/".join(p for p in (platform.os, platform.architecture, platform.variant) if p)


def select(index: ImageIndex, wanted: Platform | None = None) -> Descriptor:
    """The entry of ``index`` for ``wanted`` (the host's platform when None), or Docker's
    NotFound: ``no matching manifest for linux/arm64 in the manifest list entries``."""
    target = wanted or default()
    vector = compatible(target)
    best: tuple[int, Descriptor] | None = None
    for entry in index.manifests:
        if entry.platform is None:
            continue
        candidate = normalize(entry.platform)
        if candidate in vector:
            rank = vector.index(candidate)
            if best is None or rank < best[0]:
                best = (rank, entry)
    if best is None:
        raise NotFound(f"no matching manifest for {format_platform(target)} in the manifest list entries")
    return best[1]
