#!/usr/bin/env bash
# Install everything ketch needs on Debian: packages with apt-get, Python packages in
# .venv (pinned), launchers for ketch, ketchd, ketch-runtime and ketch-compose in /usr/local/bin.
# Usage: scripts/install.sh [--with-tests]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
with_tests=0
[ "${1:-}" = "--with-tests" ] && with_tests=1

if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (ketch needs namespaces, mounts and cgroups)" >&2
    exit 1
fi

# Debian packages: the interpreter and venv module, the static busybox the embedded
# image is built from, libseccomp for seccomp filters, tini (tini-static is `--init`),
# iproute2 for network tests, gcc, libc6-dev and zlib1g-dev (gzip of rotated logs) for the
# C container monitor (below), nftables with libnftables and its Python binding for the
# firewall rules of container networks (NAT, published ports, isolation).
packages=(python3 python3-venv busybox-static libseccomp2 tini iproute2 ca-certificates gcc libc6-dev zlib1g-dev
          nftables libnftables1 python3-nftables)
# For the tests: gcc and libc6-dev also build the static probe run inside containers
# (tests/probe), runc is the runtime the conformance tests compare ketch's with;
# docker-registry (distribution 2.8) and skopeo are the registry peers of the image tests;
# mmdebstrap makes the notes' example's base images from Debian's packages
# (examples/node-postgres/make-images.sh, tests/integration/test_compose_example.py);
# docker-compose (1.29, docker-py) is the compose client of the compose interop tests.
[ "$with_tests" = 1 ] && packages+=(runc docker-registry skopeo mmdebstrap docker-compose)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$with_tests" = 1 ] && { [ ! -x /usr/sbin/dockerd ] || ! command -v docker >/dev/null 2>&1; }; then
    # The tests' oracle: docker.io's dockerd, which the differential tests start on roots
    # of their own, and a docker client (a docker CLI already first on PATH, such as a
    # docker 28 in /usr/local/bin, stays the one the tests use).
    missing+=(docker.io)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    # Keep dockerd and docker-registry from starting as services while installing: the
    # tests start their own, on roots and ports of their own.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv uses Debian's interpreter, never a pyenv shim (its start-up costs ~100 ms).
python=/usr/bin/python3
if [ ! -x "$repo/.venv/bin/python3" ]; then
    "$python" -m venv "$repo/.venv"
fi
requirements="$repo/requirements.txt"
[ "$with_tests" = 1 ] && requirements="$repo/requirements-test.txt"
"$repo/.venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
# libnftables' Python binding is Debian's (it matches the installed library, and PyPI has
# none): the venv sees that one package, not the rest of Debian's dist-packages.
site=$("$repo/.venv/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ln -sfn /usr/lib/python3/dist-packages/nftables "$site/nftables"
# Byte-compile now: the CLI runs with -I, so it never writes .pyc files itself.
"$repo/.venv/bin/python3" -m compileall -q "$repo/ketch" >/dev/null

# The C container monitor (ketch/monitor/handover.py): built next to its source, so that
# every checkout runs its own; rebuilt when the source is newer. Without it the monitors
# stay in Python (3 MiB per container instead of 0.1), so a failed build is not fatal.
monitor_src="$repo/ketch/monitor/cmonitor/monitor.c"
monitor_bin="$repo/ketch/monitor/cmonitor/ketch-monitor"
if [ ! -x "$monitor_bin" ] || [ "$monitor_src" -nt "$monitor_bin" ]; then
    if gcc -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
            -o "$monitor_bin.tmp" "$monitor_src" -lz; then
        mv -f "$monitor_bin.tmp" "$monitor_bin"
    else
        rm -f "$monitor_bin.tmp"
        echo "install.sh: could not build the C monitor; containers keep Python monitors" >&2
    fi
fi

# Launchers. -I ignores PYTHON* variables and the user's site; the CLI and the runtime
# also skip site (-S): they use only the standard library and must start fast.
launcher() {  # name, interpreter flags, module
    cat > "$repo/.venv/bin/$1" <<LAUNCHER
#!$repo/.venv/bin/python3 $2
import sys; sys.path.insert(0, "$repo")
from $3 import main; sys.exit(main())
LAUNCHER
    chmod 755 "$repo/.venv/bin/$1"
    ln -sf "$repo/.venv/bin/$1" "/usr/local/bin/$1"
}
launcher ketch -IS ketch.cli.main
launcher ketch-runtime -IS ketch.runtime.cli
launcher ketchd -I ketch.daemon.main
# compose needs PyYAML and jsonschema from site-packages: -I, not -IS (`ketch compose` execs it).
launcher ketch-compose -I ketch.compose.main

if [ "$with_tests" = 1 ] && command -v docker >/dev/null 2>&1; then
    # What the differential tests compare with (tests/integration/differential).
    echo "install.sh: the tests compare with $(command -v docker) ($(docker --version))" \
         "and /usr/sbin/dockerd ($(/usr/sbin/dockerd --version 2>/dev/null || echo 'missing'))"
fi
