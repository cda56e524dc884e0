#!/usr/bin/env bash
# The whole test suite: installs what is missing, then formatting, lints, unit, integration,
# golden (vs RDKit's Python bindings) and crash tests. This is what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export XFSTORE_PYTHON="$PWD/target/py/bin/python"
cargo fmt --all -- --check
cargo clippy --release --locked --all-targets -- -D warnings
cargo test --release --locked --all-targets
cargo test --release --locked --doc
