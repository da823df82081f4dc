#!/usr/bin/env bash
# Creates the Python environments that crates/trackd/tests/traccar_clients.rs
# runs real Traccar clients from:
#
#   <target>/py/pytraccar3    pytraccar 3.0.0 (token auth)
#   <target>/py/pytraccar2    pytraccar 2.1.1 (password auth)
#   <target>/py/schemathesis  schemathesis (OpenAPI fuzzing)
#
# <target> is $CARGO_TARGET_DIR, or ./target. Needs python3 >= 3.11 with the
# venv module and access to PyPI. Re-running is cheap: an environment whose
# stamp matches the pinned versions is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target/py"
root=$(cd "$target/py" && pwd)

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python=$candidate
      break
    fi
  done
fi
if [ -z "$python" ]; then
  echo "setup.sh: need python3 >= 3.11 with venv (pytraccar uses enum.StrEnum)" >&2
  exit 1
fi

# name | pip arguments. pytraccar 3.0.0 declares Python >= 3.12 but runs on
# 3.11 too, hence --ignore-requires-python.
envs=(
  "pytraccar3|--ignore-requires-python pytraccar==3.0.0"
  "pytraccar2|pytraccar==2.1.1"
  "schemathesis|schemathesis==4.32.5"
)

for entry in "${envs[@]}"; do
  name=${entry%%|*}
  packages=${entry#*|}
  dir="$root/$name"
  stamp="$($python --version 2>&1) $packages"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "setup.sh: $name up to date"
    continue
  fi
  echo "setup.sh: creating $dir ($packages)"
  rm -rf "$dir"
  "$python" -m venv "$dir"
  # shellcheck disable=SC2086 # $packages is a list of arguments
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check $packages
  echo "$stamp" >"$dir/.stamp"
done
