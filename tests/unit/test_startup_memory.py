"""Start-up and memory bounds: the CLI imports only the command it runs, the reuse caches are sized in tokens of
the loaded model, image patches waiting for prefill are bounded, and glibc's arenas are capped and trimmed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest

from vreason.engine.allocator import IdleTrimmer
from vreason.engine.cache_budget import (
    PREFIX_CACHE_TOKENS,
    VISION_CACHE_TOKENS,
    cache_budgets,
    kv_bytes_per_token,
    vision_bytes_per_token,
)
from vreason.engine.interface import EngineStats
from vreason.engine.visual_gate import VisualTokenGate

MiB = 1 << 20


def _modules_after(argv: list[str]) -> set[str]:
    """The modules `vreason ARGV` has imported when it exits (a real `main()` in a fresh interpreter)."""
    code = (
        "import sys, atexit\n"
        "atexit.register(lambda: print('MODULES', ' '.join(sorted(sys.modules)), file=sys.stderr))\n"
        f"sys.argv = ['vreason', *{argv!r}]\n"
        "from vreason.cli.app import main\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    line = next(li for li in run.stderr.splitlines() if li.startswith("MODULES "))
    return set(line.split()[1:])


def test_the_cli_imports_only_the_command_it_runs():
    version = _modules_after(["--version"])
    assert not any(m.startswith(("vreason.cli.ask", "vreason.cli.serve", "torch", "fastapi")) for m in version)
    ask_help = _modules_after(["ask", "--help"])
    assert "vreason.cli.ask" in ask_help
    for other in (
        "vreason.cli.serve",
        "vreason.cli.chat",
        "vreason.cli.ui",
        "vreason.cli.finetune",
        "fastapi",
        "gradio",
        "torch",
    ):
        assert other not in ask_help, other


def test_the_whole_app_still_has_every_command():
    from vreason.cli.app import COMMANDS, app, commands_needed

    names = {info.name for info in app.registered_commands} | {g.name for g in app.registered_groups}
    assert names == set(COMMANDS)
    assert commands_needed(["--debug", "ask", "x.png", "q"]) == ["ask"]
    assert commands_needed(["--version"]) == []
    assert commands_needed(["asK"]) is None  # click then names the nearest command
    assert commands_needed([]) is None


def _config(layers: int, kv_heads: int, head_dim: int, hidden: int, deepstack: int):
    from transformers import Qwen3VLConfig

    return Qwen3VLConfig(
        text_config={
            "num_hidden_layers": layers,
            "num_key_value_heads": kv_heads,
            "head_dim": head_dim,
            "hidden_size": hidden,
            "num_attention_heads": max(kv_heads, 4),
        },
        vision_config={"out_hidden_size": hidden, "deepstack_visual_indexes": list(range(deepstack))},
    )


def test_cache_budgets_count_tokens_of_the_model_under_the_ceilings():
    tiny = _config(layers=4, kv_heads=2, head_dim=32, hidden=128, deepstack=1)
    assert kv_bytes_per_token(tiny, 4) == 2 * 4 * 2 * 32 * 4
    assert vision_bytes_per_token(tiny, 4) == 2 * 128 * 4
    budgets = cache_budgets(tiny, 4, prefix_ceiling=512 * MiB, vision_ceiling=256 * MiB)
    assert budgets.prefix_bytes == PREFIX_CACHE_TOKENS * 2048 == 128 * MiB
    assert budgets.vision_bytes == VISION_CACHE_TOKENS * 1024 == 64 * MiB
    eight_b = _config(layers=36, kv_heads=8, head_dim=128, hidden=4096, deepstack=3)  # Qwen3-VL-8B's shapes
    budgets = cache_budgets(eight_b, 2, prefix_ceiling=512 * MiB, vision_ceiling=256 * MiB)
    assert (budgets.prefix_bytes, budgets.vision_bytes) == (512 * MiB, 256 * MiB)


def test_visual_gate_lets_requests_through_in_order_within_the_budget():
    async def scenario() -> list[str]:
        gate = VisualTokenGate(1000)
        order: list[str] = []

        async def request(name: str, tokens: int, hold_s: float) -> None:
            await gate.acquire(tokens)
            order.append(name)
            assert gate.held <= 1000 or gate.held == tokens  # over budget only alone
            await asyncio.sleep(hold_s)
            gate.release(tokens)

        await asyncio.gather(
            request("a", 600, 0.05), request("b", 600, 0.01), request("c", 100, 0.01), request("huge", 5000, 0.01)
        )
        assert gate.held == 0
        return order

    # c would fit beside a, but b came first: no overtaking
    assert asyncio.run(scenario()) == ["a", "b", "c", "huge"]


def test_visual_gate_forgets_a_waiter_that_went_away():
    async def scenario() -> int:
        gate = VisualTokenGate(100)
        await gate.acquire(100)
        waiter = asyncio.ensure_future(gate.acquire(50))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        gate.release(100)
        await gate.acquire(100)  # not blocked by the cancelled one
        return gate.held

    assert asyncio.run(scenario()) == 100


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_malloc_settings_apply_unless_the_user_made_them():
    code = "from vreason.engine.allocator import tune_malloc; print(' '.join(tune_malloc()))"
    env = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")}

    def applied() -> str:
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()

    assert applied() == "arenas=2 mmap_threshold=4194304"
    env["MALLOC_ARENA_MAX"] = "4"
    assert applied() == "mmap_threshold=4194304"
    env["MALLOC_MMAP_THRESHOLD_"] = "65536"
    assert applied() == ""


class _Engine:
    """The one member IdleTrimmer reads, with the numbers an engine reports."""

    def __init__(self) -> None:
        self.now = EngineStats()

    def stats(self) -> EngineStats:
        return self.now


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_idle_trimmer_trims_once_after_each_stretch_of_work():
    engine = _Engine()
    trimmer = IdleTrimmer(engine, interval_s=0.01)
    try:
        _wait_for(lambda: trimmer.trims == 1)  # idle at start: once
        engine.now = EngineStats(running=3)
        time.sleep(0.1)
        assert trimmer.trims == 1  # never while requests run
        engine.now = EngineStats(finished_total=3)
        _wait_for(lambda: trimmer.trims == 2)
        time.sleep(0.1)
        assert trimmer.trims == 2  # idle with no new work: nothing more to hand back
    finally:
        trimmer.stop()


def _wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_processor_keeps_no_parsed_copy_of_the_vocabulary():
    # transformers builds Qwen's tokenizer from tokenizer.json parsed in Python and keeps the parse (~90 MiB
    # for the real vocabulary); load_processor drops it, and the tokenizer encodes and templates the same
    from transformers import AutoProcessor

    from vreason.models.demo import SHIPPED_DIR
    from vreason.models.loader import load_processor

    fresh = AutoProcessor.from_pretrained(str(SHIPPED_DIR)).tokenizer
    if not isinstance(getattr(fresh, "_vocab", None), dict):
        pytest.skip("this transformers keeps no parsed vocabulary on the tokenizer: nothing to drop")
    assert isinstance(fresh._merges, list)  # what there is to drop
    processor = load_processor(str(SHIPPED_DIR))
    tokenizer = processor.tokenizer
    assert tokenizer._vocab is None
    assert tokenizer._merges is None
    text = "What colour is the circle? <|vision_start|><|image_pad|><|vision_end|> {\"color\": \"red\"}"
    assert tokenizer(text).input_ids == fresh(text).input_ids
    assert len(tokenizer) == len(fresh)
    assert tokenizer.get_vocab() == fresh.get_vocab()
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert processor.apply_chat_template(messages, add_generation_prompt=True) == AutoProcessor.from_pretrained(
        str(SHIPPED_DIR)
    ).apply_chat_template(messages, add_generation_prompt=True)
