#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, run and test xfstore. Idempotent and
# quick when everything is present. Used by tools/quickstart.sh, tools/test.sh and .ci/run.
#
#   - Debian packages: the C++ toolchain, RDKit 2022.09 headers/libs, Boost headers (not pulled
#     by librdkit-dev), RocksDB 7.8 (linked by the rocksdb crate, see ARCHITECTURE.md), libclang
#     (bindgen in librocksdb-sys), the IUPAC InChI library (InChIKeys), RDKit's Python bindings
#     (reference oracle) and test data.
#   - A second venv, target/py-inchi, without system site-packages: RDKit's current PyPI wheel,
#     built with InChI (Debian's is not), the reference of the InChIKey test only.
#   - A Python venv in target/py on Debian's python3 with system site-packages (so it sees
#     python3-rdkit) plus pinned pyarrow and duckdb (real Parquet readers for the tests), ray,
#     xxhash and pytest, and the Ray driver of partitioned runs (python/xfstore_ray, editable;
#     python3-wheel lets the venv's setuptools build it without downloading a build backend).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(g++ make pkg-config librdkit-dev libboost-dev librocksdb-dev libinchi-dev clang libclang-dev
  python3 python3-venv python3-wheel python3-yaml python3-rdkit python3-pandas rdkit-data)
# pyarrow 17 is the newest that accepts the numpy 1.24 python3-rdkit is built against.
# ray schedules partitioned runs (python/xfstore_ray; its tests start a local multi-node
# cluster); xxhash checks the partition function independently; pytest runs tests/py; maturin
# builds the Python module (python/xfstore-py); polars (and Debian's pandas, built against the
# same numpy as python3-rdkit) read its Arrow streams in the tests.
PY_PKGS=(pyarrow==17.0.0 duckdb==2.0.0 ray==2.60.0 xxhash==4.1.0 pytest==9.2.0 maturin==1.16.0 polars==2.1.0 jsonschema==4.26.0)
PY_IMPORTS="import pyarrow, duckdb, rdkit, yaml, ray, xxhash, pytest, polars, pandas, jsonschema"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: cargo not found; install Rust (https://rustup.rs) first" >&2
    exit 1
  fi
fi

PY=target/py/bin/python
if [ ! -x "$PY" ]; then
  echo "setup: creating Python venv target/py (Debian python3 + system site-packages)" >&2
  mkdir -p target
  /usr/bin/python3 -m venv --system-site-packages target/py
fi
if ! "$PY" -c "$PY_IMPORTS" >/dev/null 2>&1; then
  echo "setup: installing ${PY_PKGS[*]} into target/py" >&2
  "$PY" -m pip install -q --disable-pip-version-check "${PY_PKGS[@]}"
fi
"$PY" -c "$PY_IMPORTS" || { echo "setup: Python test dependencies unusable" >&2; exit 1; }
# RDKit's PyPI wheel in a venv of its own (it must not shadow Debian's RDKit, the oracle of
# every other test): the reference InChIKeys (tests/py/test_inchikey.py)
INCHI_PY=target/py-inchi/bin/python
if ! "$INCHI_PY" -c "from rdkit import Chem; Chem.MolToInchiKey" >/dev/null 2>&1; then
  echo "setup: installing RDKit's PyPI wheel (rdkit==2026.9.1) into target/py-inchi" >&2
  rm -rf target/py-inchi
  /usr/bin/python3 -m venv target/py-inchi
  "$INCHI_PY" -m pip install -q --disable-pip-version-check rdkit==2026.9.1
fi
# the Ray driver of partitioned runs, editable (the repository's code is what runs)
if ! "$PY" -c "import xfstore_ray" >/dev/null 2>&1; then
  echo "setup: installing the Ray driver python/xfstore_ray into target/py" >&2
  "$PY" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e python/xfstore_ray
fi
# the xfstore Python module (PyO3), built by maturin against this checkout and installed
# editable into the venv; tools/test.sh rebuilds it so the tests run the current code
if ! "$PY" -c "import xfstore" >/dev/null 2>&1; then
  echo "setup: building the Python module python/xfstore-py into target/py (maturin)" >&2
  VIRTUAL_ENV="$PWD/target/py" target/py/bin/maturin develop --release -q -m python/xfstore-py/Cargo.toml
fi
