#!/usr/bin/env bash
# Build llama.cpp's `llama-server` (and `llama-mtmd-cli`, `llama-quantize`) from the llama.cpp sources vendored in the
# `llama-cpp-python` sdist, into .cache/llama.cpp. Used by benchmarks/edge_bench.py's llama.cpp arm.
#
#   scripts/setup_llama_cpp.sh                       # idempotent; the first build took ~95 min on 2 busy cores
#   LLAMA_CPP_PYTHON_VERSION=0.3.16 scripts/setup_llama_cpp.sh
#   JOBS=4 scripts/setup_llama_cpp.sh
#
# Why the sdist: it is on PyPI (the only registry this machine reaches), so the build is reproducible offline of GitHub.
# The converter (convert_hf_to_gguf.py) and its `gguf` package come from the same vendored tree, so model conversion
# and the server agree on the GGUF version. The script also prepares .cache/llama.cpp/venv with the converter's
# Python dependencies (sentencepiece, the vendored gguf-py; torch and transformers come from vreason's .venv
# through a .pth file).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${LLAMA_CPP_DIR:-.cache/llama.cpp}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-}"
JOBS="${JOBS:-$(nproc)}"
PY="${PYTHON:-.venv/bin/python}"
mkdir -p "$ROOT"

if [[ ! -d "$ROOT/src" ]]; then
  echo "downloading the llama-cpp-python sdist ${VERSION:-(latest)} ..."
  rm -rf "$ROOT/sdist" && mkdir -p "$ROOT/sdist"
  "$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary llama-cpp-python \
    -d "$ROOT/sdist" "llama-cpp-python${VERSION:+==$VERSION}"
  tar -xzf "$ROOT"/sdist/llama_cpp_python-*.tar.gz -C "$ROOT/sdist"
  mv "$ROOT"/sdist/llama_cpp_python-*/vendor/llama.cpp "$ROOT/src"
  ls "$ROOT"/sdist/llama_cpp_python-*.tar.gz | sed 's/.*llama_cpp_python-//; s/.tar.gz//' > "$ROOT/VERSION"
fi

# The converter's environment first: conversion can start while the server builds.
if [[ ! -x "$ROOT/venv/bin/python" ]]; then
  "$PY" -m venv --system-site-packages "$ROOT/venv"
  "$ROOT/venv/bin/pip" install -q --disable-pip-version-check -e "$ROOT/src/gguf-py" sentencepiece
  # torch and transformers from vreason's environment (a venv's --system-site-packages is the base Python's)
  "$PY" -c "import site; print(site.getsitepackages()[0])" > \
    "$("$ROOT/venv/bin/python" -c "import site; print(site.getsitepackages()[0])")/vreason-venv.pth"
fi

if [[ ! -x "$ROOT/build/bin/llama-server" ]]; then
  echo "building llama-server with $JOBS jobs (CPU, native ISA) ..."
  cmake -S "$ROOT/src" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF >/dev/null
  cmake --build "$ROOT/build" -j "$JOBS" --target llama-server llama-quantize llama-mtmd-cli
fi

echo "llama.cpp $(cat "$ROOT/VERSION") ready: $ROOT/build/bin/llama-server"
