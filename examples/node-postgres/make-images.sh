#!/bin/sh
# Make the notes' base images from Debian's packages and import them into ketch:
#   node:latest      Debian's nodejs and npm (CMD ["node"])
#   postgres:latest  Debian's postgresql-15, with postgres-entrypoint.sh as the official
#                    image's docker-entrypoint.sh (a cluster made from POSTGRES_* on first
#                    start), PGDATA=/var/lib/postgresql/data (a volume), port 5432
# Each root filesystem is made by mmdebstrap (as root, `apt-get install mmdebstrap`) into
# a tarball, then `ketch import`ed with the config the official images have. The node
# image trusts the certificate authorities the host trusts beyond Debian's (a proxy's that
# re-signs TLS, say), so that `RUN npm install` reaches the registry as the host does.
#
# Usage: make-images.sh [--tars DIR] [--no-import]
#   --tars DIR   keep the tarballs in DIR, and reuse those already there (node.tar,
#                postgres.tar) instead of making them again
#   --no-import  only make the tarballs
# Environment: KETCH (the ketch command, default ketch; KETCH_HOST picks the daemon),
# SUITE (default bookworm), MIRROR (default http://deb.debian.org/debian),
# SECURITY_MIRROR (default http://deb.debian.org/debian-security).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
ketch=${KETCH:-ketch}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
security=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
pgbin=/usr/lib/postgresql/15/bin

# host_cas ROOT: the host's trusted certificates that ROOT's bundle lacks, added to ROOT's
# (an mmdebstrap hook, `make-images.sh --host-cas ROOT`).
host_cas() {
    bundle=/etc/ssl/certs/ca-certificates.crt
    [ -s "$bundle" ] || return 0
    awk -v dir="$1/usr/local/share/ca-certificates" '
        /-----BEGIN CERTIFICATE-----/ { pem = "" }
        { pem = pem $0 "\n" }
        /-----END CERTIFICATE-----/ {
            if (FILENAME == ARGV[1]) { known[pem] = 1 }
            else if (!(pem in known)) { file = dir "/host-" ++n ".crt"; printf "%s", pem > file; close(file) }
        }' "$1$bundle" "$bundle"
    chroot "$1" update-ca-certificates >/dev/null 2>&1
}
if [ "${1:-}" = --host-cas ]; then
    host_cas "$2"
    exit
fi

usage() { sed -n '12,19s/^# \{0,1\}//p' "$0"; }
tars= import=1
while [ $# -gt 0 ]; do
    case $1 in
        --tars) [ $# -ge 2 ] || { usage >&2; exit 2; }; tars=$2; shift 2 ;;
        --no-import) import=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
if [ -z "$tars" ]; then
    tars=$(mktemp -d)
    trap 'rm -rf "$tars"' EXIT
fi
mkdir -p "$tars"

# rootfs NAME PACKAGES [MMDEBSTRAP-OPTION...]: $tars/NAME.tar unless it is there already.
# Only Essential:yes packages and PACKAGES with their dependencies (no recommends), no
# manuals, documentation (but copyrights) or translations.
rootfs() {
    name=$1 packages=$2
    shift 2
    [ -s "$tars/$name.tar" ] && return 0
    mmdebstrap --quiet --mode=root --variant=essential --format=tar --include="$packages" \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        "$@" "$suite" "$tars/$name.tar.part" \
        "deb $mirror $suite main" "deb $mirror $suite-updates main" \
        "deb $security $suite-security main" || { rm -f "$tars/$name.tar.part"; return 1; }
    mv "$tars/$name.tar.part" "$tars/$name.tar"
}

# What the hooks run (mmdebstrap runs each with `sh -c HOOK exec ROOT`, in this environment).
SELF=$here/make-images.sh ENTRYPOINT=$here/postgres-entrypoint.sh
export SELF ENTRYPOINT

# The two are made at once: each waits on downloads as much as on dpkg.
rootfs node nodejs,npm,ca-certificates --customize-hook='"$SELF" --host-cas "$1"' &
node_job=$!
# postgresql-15's JIT (LLVM, 135 MB) is left out: postgres runs without it, as when
# llvmjit.so is not installed. Its package makes a cluster in /var/lib/postgresql/15/main,
# which the image does not want (the entrypoint makes one in $PGDATA).
rootfs postgres postgresql-15 \
    --dpkgopt='path-exclude=/usr/lib/*/libLLVM*' --dpkgopt='path-exclude=/usr/lib/*/libz3.so*' \
    --dpkgopt='path-exclude=/usr/lib/postgresql/*/lib/llvmjit*' \
    --dpkgopt='path-exclude=/usr/lib/postgresql/*/lib/bitcode/*' \
    --customize-hook='rm -rf "$1"/var/lib/postgresql/15 "$1"/etc/postgresql/15/main "$1"/var/log/postgresql/*' \
    --customize-hook='chroot "$1" install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data' \
    --customize-hook='install -m 755 "$ENTRYPOINT" "$1"/usr/local/bin/docker-entrypoint.sh' &
postgres_job=$!
# Both are waited for, whatever the first's outcome.
failed=0
wait "$node_job" || failed=1
wait "$postgres_job" || failed=1
[ "$failed" = 0 ] || exit 1

[ "$import" = 1 ] || exit 0
"$ketch" import -m "Debian $suite's nodejs and npm (make-images.sh)" \
    -c "ENV PATH=$path" -c 'CMD ["node"]' \
    "$tars/node.tar" node:latest
"$ketch" import -m "Debian $suite's postgresql-15 (make-images.sh)" \
    -c "ENV PATH=$pgbin:$path" -c 'ENV LANG=C.UTF-8' -c 'ENV PGDATA=/var/lib/postgresql/data' \
    -c 'VOLUME /var/lib/postgresql/data' -c 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    -c 'STOPSIGNAL SIGINT' -c 'EXPOSE 5432' -c 'CMD ["postgres"]' \
    "$tars/postgres.tar" postgres:latest
