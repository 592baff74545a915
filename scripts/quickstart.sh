#!/usr/bin/env bash
# Install ketch, start ketchd in the background if it is not running, and run a container
# from the embedded busybox image.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/install.sh"

socket=/run/ketch/ketch.sock
if ! ketch version >/dev/null 2>&1; then
    mkdir -p /var/log
    nohup ketchd >>/var/log/ketchd.log 2>&1 &
    echo "started ketchd (pid $!, log /var/log/ketchd.log)"
    for _ in $(seq 100); do
        [ -S "$socket" ] && ketch version >/dev/null 2>&1 && break
        sleep 0.1
    done
fi
ketch run --rm busybox echo hello from ketch
