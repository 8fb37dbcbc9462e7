#!/usr/bin/env bash
# Sets up everything joinedup needs on a fresh Debian machine with Python 3.11+ and Node 20:
# the locked Python environment in .venv/, the front-end packages in node_modules/ and the
# compiled translations. Safe to run again: it only does what is out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
PYTHON="${PYTHON:-python3}"
TOOLS=".tools"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "joinedup needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

# uv installs the locked dependencies; it is itself pinned and kept out of the project's venv.
if [ ! -x "$TOOLS/uv/bin/uv" ] || [ "$("$TOOLS/uv/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  echo "==> installing uv $UV_VERSION into $TOOLS/"
  rm -rf "$TOOLS/uv"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$TOOLS/uv" "uv==$UV_VERSION"
fi
export UV_PROJECT_ENVIRONMENT="$PWD/.venv"
export UV_PYTHON_DOWNLOADS=never
# Reinstall only when the lock or the project changed since the last sync.
stamp=".venv/.joinedup-synced"
if [ ! -f "$stamp" ] || [ uv.lock -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "==> installing the locked Python environment into .venv/"
  "$TOOLS/uv/bin/uv" sync --locked --python "$PYTHON" --quiet
  touch "$stamp"
fi

# Bytecode, compiled once here rather than by every process that starts. uv installs no .pyc
# files, and where PYTHONDONTWRITEBYTECODE is set (some machines set it for every shell) no
# process writes one either: each `joinedup` process — the platform's web and worker
# processes, the test suite's workers, a benchmark's platform — then compiled every module it
# imports from source, ~2.7 s of processor time before it did anything (`joinedup --help`:
# 4.6 s → 1.9 s). A module changed since is compiled again in memory, as always (its .pyc is
# checked against the source's time and size).
compiled=".venv/.joinedup-compiled"
if [ ! -f "$compiled" ] || [ "$stamp" -nt "$compiled" ]; then
  echo "==> compiling the Python environment's bytecode"
  # (only time is saved: a file that does not compile is left to be compiled when imported)
  .venv/bin/python -m compileall -q -j 0 "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null ||
    echo "note: some installed files were not compiled to bytecode" >&2
  touch "$compiled"
fi
.venv/bin/python -m compileall -q -j 0 src/joinedup >/dev/null ||
  echo "note: some of joinedup's files were not compiled to bytecode" >&2

# GOV.UK Frontend and axe-core come from the npm registry at the locked versions.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing the locked front-end packages into node_modules/"
  npm ci --silent --no-audit --no-fund >/dev/null
fi

# Debian's chromium runs the browser tests (axe-core accessibility checks); Playwright drives
# it, so no browser is downloaded. Only the test setup (`--test`) needs it, and only when missing.
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's chromium for the browser tests"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "==> installing Debian's chromium for the browser tests"
    sudo -n apt-get update -qq >/dev/null
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium is not installed and apt-get needs root: the browser tests will skip" \
      "(run 'apt-get install chromium' as root to enable them)" >&2
  fi
fi

# Translations are compiled from the committed .po catalogues.
# (-q is an option of pybabel itself; fuzzy, i.e. unreviewed, translations are not used.)
.venv/bin/pybabel -q compile -d src/joinedup/web/locale -D messages
