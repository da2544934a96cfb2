"""Start-up of `vreason ask` on the built-in demo model: a local model is loaded with no network call at all
(no hub lookup, no DNS), and the answer comes out of a process that imported no server or UI library, neither
transformers nor torchvision (vreason's own model code serves it: models/native), and neither PyAV nor httpx (a
picture from a file needs no video decoder and no URL fetch). The model
code is imported once with the garbage collector paused and then frozen (models/model_code.py), without keeping
any loaded model alive."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ROOT / "examples" / "shapes.png"

# Runs the real `vreason` entry point with an audit hook that records every socket connect and name lookup.
PROBE = """
import sys
seen = []
def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        seen.append(f"{event} {args!r:.100}")
sys.addaudithook(hook)
import atexit
def report():
    print("NETWORK", seen, file=sys.stderr)
    heavy = ("fastapi", "uvicorn", "gradio", "vreason.server", "vreason.ui", "transformers", "torchvision",
             "torch._dynamo", "av", "httpx")  # PyAV and httpx: ~90 and ~130 ms that a picture from a file needs not
    print("LOADED", " ".join(m for m in heavy if m in sys.modules), file=sys.stderr)
atexit.register(report)
sys.argv = ["vreason", *sys.argv[1:]]
from vreason.cli.app import main
main()
"""


@pytest.mark.slow
def test_ask_on_the_demo_model_makes_no_network_call_and_loads_no_server():
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}  # no HF_HUB_OFFLINE: the code itself stays off the net
    run = subprocess.run(
        [sys.executable, "-c", PROBE, "ask", str(SHAPES), "What color is the shape?", "--temperature", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "red"
    assert "NETWORK []" in run.stderr, run.stderr
    loaded = next(line for line in run.stderr.splitlines() if line.startswith("LOADED"))
    assert loaded.split()[1:] == [], run.stderr


# Loads the demo model twice in one process and reports what the garbage collector looks like after each load.
GC_PROBE = """
import gc, json, weakref
from vreason.models.loader import LoadSpec, load_model
before = gc.get_freeze_count()
loaded = load_model(LoadSpec())
first = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
model = weakref.ref(loaded.model)
del loaded
gc.collect()
freed = model() is None
gc.disable()  # the caller's choice is kept
again = load_model(LoadSpec())
print(json.dumps({"before": before, "first": first, "freed": freed,
                  "second": {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}}))
"""


@pytest.mark.slow
def test_model_code_is_imported_once_with_the_gc_paused_and_models_stay_collectable():
    import json

    run = subprocess.run([sys.executable, "-c", GC_PROBE], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["before"] == 0
    # The imports' objects (modules, classes, functions: hundreds of thousands) sit in the permanent generation...
    assert seen["first"]["enabled"]
    assert seen["first"]["frozen"] > 100_000
    # ...the model built afterwards does not: dropped, it is collected.
    assert seen["freed"]
    # A second load imports nothing, freezes nothing more and leaves the collector as the caller set it.
    assert seen["second"] == {"enabled": False, "frozen": seen["first"]["frozen"]}


# Loads the demo model through vreason's own model code and reports when the tokenizer.json parse started.
PREFETCH_PROBE = """
import json, sys
from vreason.models.loader import LoadSpec, load_model
from vreason.models.native import tokenizer as native_tokenizer
starts = []
_start = native_tokenizer.TokenizerPrefetch.__init__
def _spy(self, source):
    _start(self, source)
    starts.append({"torch_imported": "torch" in sys.modules, "threaded": self._thread is not None})
native_tokenizer.TokenizerPrefetch.__init__ = _spy
loaded = load_model(LoadSpec(native=True))
print(json.dumps({"model_code": loaded.model_code, "starts": starts}))
"""


@pytest.mark.slow
def test_the_tokenizer_is_parsed_in_a_thread_started_before_torch_is_imported():
    import json

    run = subprocess.run([sys.executable, "-c", PREFETCH_PROBE], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen == {"model_code": "native", "starts": [{"torch_imported": False, "threaded": True}]}


TRITON_PROBE = """
import json, sys
from vreason.models.model_code import import_model_code
import_model_code()
from torch.utils._triton import has_triton
print(json.dumps({"triton_loaded": sys.modules.get("triton") is not None, "has_triton": has_triton()}))
"""


@pytest.mark.slow
def test_triton_stays_out_of_a_process_without_a_gpu():
    import importlib.metadata
    import json
    import os

    import torch

    try:  # installed? (find_spec says no in a process where the model code already marked it absent)
        importlib.metadata.version("triton")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("needs Triton installed")
    if torch.cuda.is_available():
        pytest.skip("needs a process without a CUDA device")

    def probe(**env):
        run = subprocess.run([sys.executable, "-c", TRITON_PROBE], capture_output=True, text=True, timeout=300,
                             cwd=ROOT, env={**os.environ, **env})
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout.strip().splitlines()[-1])

    assert probe() == {"triton_loaded": False, "has_triton": False}  # torch._dynamo would have mapped libtriton
    assert probe(VREASON_KEEP_TRITON="1")["triton_loaded"]
