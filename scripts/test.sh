#!/usr/bin/env bash
# Install ketch with its test dependencies and run the whole test suite.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/unit -x).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/install.sh" --with-tests
cd "$repo"
if [ "$#" -eq 0 ]; then
    set -- tests
fi
# loadgroup: the differential tests (one xdist_group) share one dockerd on one worker.
exec "$repo/.venv/bin/python3" -m pytest -p no:cacheprovider -n 2 --dist loadgroup "$@"
