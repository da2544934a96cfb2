"""Multimodal memory, measured (issue 23's targets): answers from memory on the shapes-world memory benchmark,
recall latency with 10,000 and 100,000 memories in SQLite, and whether writes hold up answers.

    .venv/bin/python benchmarks/memory_bench.py                     # all of it (make bench-memory)
    .venv/bin/python benchmarks/memory_bench.py --users 4 --sizes 10000 --queries 50   # a quick look
    .venv/bin/python benchmarks/memory_bench.py --write-data runs/memory-data          # only write the data set

1. Accuracy: `--users` users of the memory benchmark (eval/memory_data.py, 5 questions each) with the built-in
   demo model, through `vreason.eval.memory_eval` (the code `vreason eval --data memory:FILE` runs): with
   memory (recall, then the recalled picture asked in the model's words), the product's own memory turn
   (`AsyncMemory.answer`), without memory, and with the whole history in context. Targets: >= 0.90 with
   memory, <= 0.35 without, recall@5 of the needed memory >= 0.95.
2. Recall latency: one user's namespace filled with N synthetic text memories (parts, facts, notes; their
   embeddings batch-computed: a pool of real MiniLM vectors of distinct sentences, each memory taking one, since
   recall's cost does not depend on the values) plus `--planted` memories whose questions are asked; each query
   is new, so its MiniLM embedding is computed (real). p50/p99 of `AsyncMemory.recall(question, k=5)`, i.e.
   what recall adds to a request. Targets: p50 <= 20 ms at 10,000, <= 50 ms at 100,000.
3. Writes do not block answers: a memory-backed answer (`AsyncMemory.answer`: recall, prompt, demo model) timed
   alone and then while a writer stores memories as fast as it can (batches of texts and new pictures, each
   described by the model) in the same process; p50/p99 and the writes done meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLING = {"temperature": 0.0, "presence_penalty": 0.0, "max_new_tokens": 16}
COLORS = ("red", "green", "blue", "black", "gray", "teal", "brown", "yellow", "purple", "orange")
KINDS = ("circle", "rectangle", "triangle", "star", "hexagon")
DEFECTS = ("a crack at the top-left", "a scratch on the edge", "a dent in the middle", "no defect", "a chipped corner")
FACT_TEMPLATES = (
    "the patient in room {n} is {a}",
    "order {n} ships on {d}",
    "the gate code for site {n} is {a}{a}",
    "supplier {n} delivers on {d}",
    "the pallet {n} weighs {a} kg",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def header(load_at_start: float) -> str:
    import torch

    from vreason.models.placement import cpu_summary

    load = os.getloadavg()[0]
    return (
        f"{cpu_summary(('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16'))}, {os.cpu_count()} cores, "
        f"load average {load_at_start:.1f} at the start and {load:.1f} at the end, "
        f"torch {torch.get_num_threads()} threads, Python {sys.version.split()[0]}"
    )


# -- 1. accuracy --------------------------------------------------------------------------------------------------


def write_data(folder: Path, users: int, seed: int) -> Path:
    from vreason.eval.memory_data import write_memory_data
    from vreason.train.shapes_world import ShapesWorld

    return write_memory_data(folder, ShapesWorld, users=users, seed=seed)


def accuracy(vr, folder: Path, users: int, seed: int, modes: list[str]) -> dict:
    from vreason.eval.memory_eval import evaluate_memory

    data = write_data(folder / "data", users, seed)
    summary = evaluate_memory(vr, data, folder / "eval", modes=modes)
    return summary.table


# -- 2. recall latency at scale -------------------------------------------------------------------------------


class PoolEmbedder:
    """Stored texts get one of a pool of real MiniLM vectors (by a hash of the text): filling 100,000 rows costs
    no 100,000 forward passes, and a recall's cost (a product over the matrix) is the same. Queries are embedded
    for real, one forward pass each (the store's own query cache only helps a repeated question)."""

    def __init__(self, pool_texts: list[str]):
        from vreason.memory.embedding import MiniLMEmbedder

        self.real = MiniLMEmbedder.shared()
        self.pool = self.real.embed(pool_texts)
        self.name, self.dimensions = self.real.name, self.real.dimensions
        self.pooled = False  # on while filling; the planted memories get their own real vectors

    def embed(self, texts):
        if not self.pooled:
            return self.real.embed(texts)
        return self.pool[[zlib.crc32(t.encode()) % len(self.pool) for t in texts]]

    def embed_query(self, text):
        return self.real.embed_query(text)


def filler(rng: random.Random, n: int) -> str:
    kind = rng.random()
    if kind < 0.5:
        return (
            f"this is part #{rng.randint(1000, 99999)}: a {rng.choice(COLORS)} {rng.choice(KINDS)} "
            f"with {rng.choice(DEFECTS)}"
        )
    if kind < 0.8:
        return rng.choice(FACT_TEMPLATES).format(n=rng.randint(1, 9999), a=rng.randint(10, 99), d=rng.choice(DAYS))
    return f"session {n % 97}: the user asked about {rng.choice(COLORS)} {rng.choice(KINDS)}s and their counts"


async def fill(mem, total: int, rng: random.Random, start: int) -> float:
    """Add filler memories up to `total`, in batches, with times spread over a year; returns seconds."""
    started = time.perf_counter()
    now = time.time()
    batch = 2000
    for first in range(start, total, batch):
        count = min(batch, total - first)
        texts = [filler(rng, first + i) for i in range(count)]
        times = [now - rng.uniform(0, 365 * 86400) for _ in range(count)]
        await mem.add_many(texts, created_at=times)
    return time.perf_counter() - started


async def latency(sizes: list[int], queries: int, planted: int, folder: Path) -> list[dict]:
    from vreason.memory import AsyncMemory, open_store

    rng = random.Random(7)
    pool_texts = list(dict.fromkeys(filler(rng, i) for i in range(3000)))[:2000]
    store = open_store(directory=str(folder / "scale"), embedder=PoolEmbedder(pool_texts))
    mem = AsyncMemory(store, user="bench", source="eval")
    # the planted memories: each will be asked about once (a distinct number, colour and shape)
    targets = []
    for i in range(planted):
        number, color, kind = 100 + i, rng.choice(COLORS), rng.choice(KINDS)
        (item,) = await mem.add_many([f"this is part #{number}: a {color} {kind}"])
        targets.append((f"what colour was part #{number}?", item.id))
    rows, have = [], planted
    for size in sorted(sizes):
        store.embedder.pooled = True
        seconds = await fill(mem, size, rng, have)
        store.embedder.pooled = False
        filled = size - have
        have = size
        await mem.recall("warm-up: load this namespace's vectors", k=5)
        times, hits = [], 0
        for n in range(queries):
            question, wanted = targets[n % len(targets)]
            question = question if n < len(targets) else f"{question} (asked again, {n})"  # new text: new embedding
            started = time.perf_counter()
            found = await mem.recall(question, k=5)
            times.append((time.perf_counter() - started) * 1000)
            hits += wanted in [h.item.id for h in found]
        db = sum(p.stat().st_size for p in (folder / "scale").glob("memory.sqlite3*"))
        rows.append(
            {
                "memories": size,
                "fill_s": round(seconds, 1),
                "fill_per_s": round(filled / max(seconds, 1e-9)),
                "recall_ms_p50": quantile(times, 0.5),
                "recall_ms_p99": quantile(times, 0.99),
                "recall_ms_mean": statistics.fmean(times),
                "planted_recall_at_5": hits / queries,
                "db_mb": round(db / 2**20, 1),
            }
        )
    store.close()
    return rows


# -- 3. writes and answers ----------------------------------------------------------------------------------------


async def writes_and_answers(vr, folder: Path, seconds: float) -> dict:
    from vreason.memory import AsyncMemory, open_store
    from vreason.train.shapes_world import ShapesWorld

    store = open_store(directory=str(folder / "concurrent"))
    reader = AsyncMemory(store, user="ana", vr=vr.aio, source="eval")
    world = ShapesWorld(31)
    part = world.scene("shape")
    await reader.remember("this is part #17", images=[part.image])
    await reader.add_many([f"this is part #{n}: notes of session {n}" for n in range(200)])
    question = "what colour was part #17?"
    await reader.answer(question, write=False, **SAMPLING)  # warm: model, embedder, vectors

    async def answers(duration: float, phase: str) -> tuple[list[float], list[float]]:
        """(recall ms, answer ms) of each request: a new wording each time, so its embedding is computed."""
        recalls, times, end, n = [], [], time.perf_counter() + duration, 0
        while time.perf_counter() < end:
            n += 1
            asked = f"{question} ({phase} {n})"  # never asked before: no cached embedding
            started = time.perf_counter()
            await reader.recall(asked, k=5)
            recalls.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await reader.answer(asked, write=False, **SAMPLING)
            times.append((time.perf_counter() - started) * 1000)
        return recalls, times

    idle_recalls, idle = await answers(seconds, "alone")
    writer = AsyncMemory(store, user="ana", vr=vr.aio, session="writer", source="eval")
    stop = asyncio.Event()
    written = {"items": 0, "pictures": 0}

    async def write_loop() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            if n % 5 == 0:  # a new picture: stored, hashed and described by the model
                await writer.remember(f"this is part #{5000 + n}", images=[world.scene("shape").image])
                written["pictures"] += 1
            else:
                await writer.add_many([f"note {n}.{i}: the inspection of line {n % 7} went fine" for i in range(20)])
            written["items"] += 20 if n % 5 else 2

    task = asyncio.create_task(write_loop())
    busy_recalls, busy = await answers(seconds, "while writing")
    stop.set()
    await task
    store.close()
    return {
        "idle_ms_p50": quantile(idle, 0.5),
        "idle_ms_p99": quantile(idle, 0.99),
        "idle_answers": len(idle),
        "busy_ms_p50": quantile(busy, 0.5),
        "busy_ms_p99": quantile(busy, 0.99),
        "busy_answers": len(busy),
        "busy_ms_max": max(busy),
        "idle_recall_ms_p50": quantile(idle_recalls, 0.5),
        "busy_recall_ms_p50": quantile(busy_recalls, 0.5),
        "busy_recall_ms_max": max(busy_recalls),
        **{f"written_{k}": v for k, v in written.items()},
    }


# -- the table --------------------------------------------------------------------------------------------------


def met(value: float | None, target: float, below: bool = False) -> str:
    if value is None:
        return "-"
    return "met" if (value <= target if below else value >= target) else "NOT met"


def table(acc: dict | None, scale: list[dict], concurrent: dict | None, seconds: float, load: float) -> str:
    lines = [f"memory benchmark: {header(load)}, {seconds:.0f} s", "", "| measure | value | target |", "|---|---:|---|"]
    if acc:
        mem = acc.get("memory", {})
        lines.append(
            f"| accuracy with memory ({mem.get('questions')} questions) | {mem.get('accuracy', 0):.3f} | "
            f">= 0.90 {met(mem.get('accuracy'), 0.90)} |"
        )
        if "none" in acc:
            lines.append(
                f"| accuracy without memory | {acc['none']['accuracy']:.3f} | "
                f"<= 0.35 {met(acc['none']['accuracy'], 0.35, below=True)} |"
            )
        for mode, label in (
            ("product", "the product's memory turn (notes + pictures, user's words)"),
            ("history", "the whole history in context"),
        ):
            if mode in acc:
                lines.append(f"| accuracy, {label} | {acc[mode]['accuracy']:.3f} | - |")
        if mem:
            lines.append(
                f"| recall@5 of the needed memory | {mem['recall_at_k']:.3f} | "
                f">= 0.95 {met(mem['recall_at_k'], 0.95)} |"
            )
            lines.append(
                f"| recall p50 / p99, benchmark stores (~40 memories a user) | "
                f"{mem['recall_ms_p50']:.1f} / {mem['recall_ms_p99']:.1f} ms | - |"
            )
            by_family = ", ".join(f"{k} {v:.2f}" for k, v in mem["by_family"].items())
            lines.append(f"| with memory, by family | {by_family} | - |")
    for row in scale:
        target = 20 if row["memories"] <= 10_000 else 50
        lines.append(
            f"| recall p50 / p99, {row['memories']:,} memories | {row['recall_ms_p50']:.1f} / "
            f"{row['recall_ms_p99']:.1f} ms | p50 <= {target} ms {met(row['recall_ms_p50'], target, True)} |"
        )
        lines.append(
            f"| planted memory in the top 5, {row['memories']:,} memories | {row['planted_recall_at_5']:.3f} | - |"
        )
        lines.append(
            f"| fill, {row['memories']:,} memories | {row['fill_s']} s ({row['fill_per_s']:,}/s), "
            f"{row['db_mb']} MiB | - |"
        )
    if concurrent:
        c = concurrent
        ratio = c["busy_ms_p50"] / c["idle_ms_p50"]
        lines.append(
            f"| recall p50, no writer / writer running (max) | {c['idle_recall_ms_p50']:.1f} / "
            f"{c['busy_recall_ms_p50']:.1f} ({c['busy_recall_ms_max']:.0f}) ms | - |"
        )
        lines.append(
            f"| memory answer p50 / p99, no writer | {c['idle_ms_p50']:.0f} / {c['idle_ms_p99']:.0f} ms "
            f"({c['idle_answers']} answers) | - |"
        )
        lines.append(
            f"| memory answer p50 / p99 / max, writer running | {c['busy_ms_p50']:.0f} / "
            f"{c['busy_ms_p99']:.0f} / {c['busy_ms_max']:.0f} ms ({c['busy_answers']} answers; "
            f"{c['written_items']} items, {c['written_pictures']} pictures written meanwhile) | "
            f"p50 x{ratio:.2f} the no-writer p50 |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default="memory,product,none,history")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--planted", type=int, default=50)
    parser.add_argument("--concurrent-seconds", type=float, default=20.0)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: accuracy, latency, writes")
    parser.add_argument("--write-data", type=Path, help="only write the memory benchmark's data to this folder")
    parser.add_argument("--keep", type=Path, help="keep stores and reports here (default: a temporary folder)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--model", help="a model folder or hub id to answer with (default: the built-in demo model; "
                        "a folder trained from it is asked the demo's question forms, as the built-in is)")
    parser.add_argument(
        "--torch-threads", type=int, help="torch's intra-op threads (default: torch's own); the header says which"
    )
    args = parser.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    if args.write_data:
        path = write_data(args.write_data, args.users, args.seed)
        print(f"{path}: run it with `vreason eval --data memory:{path} --out runs/memory`")
        return
    skip = set(filter(None, args.skip.split(",")))
    folder = args.keep or Path(tempfile.mkdtemp(prefix="memory-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    started, load = time.perf_counter(), os.getloadavg()[0]
    vr = None
    if not {"accuracy", "writes"} <= skip:
        from vreason import VReason

        vr = VReason(model=args.model) if args.model else VReason()
    acc = None if "accuracy" in skip else accuracy(vr, folder, args.users, args.seed, args.modes.split(","))
    scale = (
        []
        if "latency" in skip
        else asyncio.run(latency([int(s) for s in args.sizes.split(",")], args.queries, args.planted, folder))
    )
    concurrent = None if "writes" in skip else vr.run(writes_and_answers(vr, folder, args.concurrent_seconds))
    text = table(acc, scale, concurrent, time.perf_counter() - started, load)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"accuracy": acc, "scale": scale, "writes": concurrent}, indent=1))
    if args.keep is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
