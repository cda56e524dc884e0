#!/usr/bin/env bash
# The whole test suite: installs what is missing, then formatting, lints, unit, integration,
# golden (vs RDKit's Python bindings), property, crash and doc tests, and the Python tests
# (tests/py: partitioned runs on a local Ray cluster). This is what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
step() {
  local t0=$SECONDS
  echo "== $*" >&2
  "$@"
  echo "== done in $((SECONDS - t0)) s: $*" >&2
}
step tools/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export XFSTORE_PYTHON="$PWD/target/py/bin/python"
step cargo fmt --all -- --check
step cargo build --release --locked --all-targets
step cargo clippy --release --locked --all-targets -- -D warnings
step cargo clippy --release --locked -p xfstore-py --features extension-module -- -D warnings
step cargo test --release --locked --all-targets
# the tests that need the Python oracle venv (#[ignore]d so a plain `cargo test` runs without it)
step cargo test --release --locked --test it -- --ignored
step cargo test --release --locked --doc
# Python: partitioned runs scheduled by Ray on a local 2-node cluster and the shell fallback;
# the xfstore Python module against the CLI
# the Python module, rebuilt from this checkout (editable install into target/py)
step env VIRTUAL_ENV="$PWD/target/py" target/py/bin/maturin develop --release -q -m python/xfstore-py/Cargo.toml
export XFSTORE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/xfstore"
step "$XFSTORE_PYTHON" -m pytest -q tests/py
