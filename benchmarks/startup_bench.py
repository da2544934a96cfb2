"""Start-up time and memory: how long each command takes to be useful, where the time goes, what the RSS is.

    .venv/bin/python benchmarks/startup_bench.py                     # start-up table (median of 3 fresh processes)
    .venv/bin/python benchmarks/startup_bench.py --repeats 5
    .venv/bin/python benchmarks/startup_bench.py --memory            # peak RSS of `vreason serve` under the load test
    .venv/bin/python benchmarks/startup_bench.py --append-results benchmarks/RESULTS.md --label "after"
    .venv/bin/python benchmarks/startup_bench.py --src /tmp/before/src --label "before"   # another tree
    .venv/bin/python benchmarks/startup_bench.py --against /tmp/before/src   # before/after, run by run alternating

Start-up (built-in demo model), each command in a fresh process, --repeats times, median:

- `vreason --version`: the CLI's own import floor;
- `vreason ask examples/shapes.png "What color is the shape?"`: process start to answer printed (target 2.5 s);
- `vreason serve --port 0`: process start to the first 200 from /health (target 3 s);
- `VReason()`: a fresh Python process constructing the engine through the Python API (target 3 s);
- `vreason ask --backend openai --upstream URL`: the same question sent by a fresh CLI process to a `vreason
  serve` already running (started once per tree after the runs above, untimed): the way `ollama run` talks to
  its daemon, where the model is loaded once and every later ask pays only the client's start;
- the same `ask` cut into phases inside one process (imports, config, processor, weights, engine, answers).

Memory (--memory): `vreason serve` on the load test's tiny random Qwen3-VL (benchmarks/load_test.py builds it),
RSS when ready, then --rounds rounds of --requests concurrent image requests over HTTP (the load test's own
workload and client), RSS after each round and the peak (VmHWM), split into file-backed and anonymous memory.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
IMAGE = ROOT / "examples" / "shapes.png"
QUESTION = "What color is the shape?"
READY = re.compile(r"serving \S+ at (http://\S+)/v1")
MiB = 1024 * 1024
# a shell's backend settings would turn `vreason serve` into a proxy and `ask` into a client: never passed on
BACKEND_SETTINGS = ("VREASON_BACKEND", "VREASON_UPSTREAM", "VREASON_UPSTREAM_API_KEY")

# In-process phases of one `vreason ask`, in order; run with --probe in a fresh interpreter.
PROBE = r"""
import json, sys, time
t = [time.perf_counter()]
phases = {}
def mark(name):
    now = time.perf_counter(); phases[name] = now - t[0]; t[0] = now
import vreason.cli.app
mark("import vreason CLI")
from vreason.models.loader import LoadSpec, load_model
try:  # as `vreason ask` loads: the serving path's own model code where a tree has it (models/native)
    spec = LoadSpec(native=True)
except TypeError:  # an older tree
    spec = LoadSpec()
loaded = load_model(spec)  # first, as in `vreason ask`: torch (and transformers, if used) are imported in here
mark("load model (all)")
for name, seconds in getattr(loaded, "phases", {}).items():
    phases["  " + name] = seconds
from vreason.engine import local_engine
mark("import engine")
from vreason.engine import factory
if hasattr(factory, "build_local_engine_from"):
    engine = factory.build_local_engine_from(factory.EngineSpec(), loaded)
else:  # an older tree (--baseline)
    engine = local_engine.LocalEngine(loaded, local_engine.EngineConfig())
mark("build engine")
from vreason.api import VReason
from vreason.media import load_image
vr = VReason(engine=engine)
image = load_image(sys.argv[1])
mark("load image")
vr.ask(image, sys.argv[2], temperature=0)
mark("first answer")
vr.ask(image, sys.argv[2], temperature=0)
mark("second answer")
print("PHASES " + json.dumps(phases))
"""

API = "from vreason import VReason; VReason()"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str, float]:
    """Wall seconds, peak RSS (bytes), stdout+stderr and CPU seconds (user + system) of one fresh process.
    On a shared machine the CPU seconds move less than the wall time."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {process.returncode}:\n{out[-2000:]}")
    return wall, usage.ru_maxrss * 1024, out, usage.ru_utime + usage.ru_stime


def serve_ready(env: dict[str, str] | None = None, keep: list | None = None) -> tuple[float, int, float]:
    """Seconds from `vreason serve` starting to /health answering 200, the server's RSS then and its CPU
    seconds so far. `keep`: a list that gets (process, url), and the server stays up for the caller to stop."""
    import httpx

    started = time.perf_counter()
    process = subprocess.Popen(
        [str(BIN / "vreason"), "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    kept = False
    try:
        url = None
        for line in process.stderr:
            if match := READY.search(line):
                url = match.group(1)
                break
        if url is None:
            raise RuntimeError("vreason serve exited before it was ready")
        while True:
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.01)
        wall = time.perf_counter() - started
        if keep is not None:
            threading.Thread(target=process.stderr.read, daemon=True).start()  # its log must not fill the pipe
            keep.append((process, url))
            kept = True
        return wall, _rss(process.pid), _cpu_s(process.pid)
    finally:
        if not kept:
            stop(process)


def warm_asks(env: dict[str, str], repeats: int) -> list[tuple[float, int, str, float]]:
    """`vreason ask` from `repeats` fresh processes through one running `vreason serve` of this tree (started
    first, untimed, and stopped after); empty where the tree cannot (an older tree without the remote backend)."""
    keep: list = []
    try:
        serve_ready(env, keep)
        _, url = keep[0]
        argv = [str(BIN / "vreason"), "ask", "--backend", "openai", "--upstream", url + "/v1", str(IMAGE),
                QUESTION, "--temperature", "0"]
        return [timed(argv, env) for _ in range(repeats)]
    except RuntimeError as error:  # shown in the table as a failure of this tree, the other rows kept
        print(f"warm asks failed for this tree: {error}", file=sys.stderr)
        return []
    finally:
        for process, _ in keep:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def tree_env(src: Path | None) -> dict[str, str]:
    """The environment of a child process that imports vreason from `src` (ahead of the editable install), or
    from the installed tree (None)."""
    env = {key: value for key, value in os.environ.items() if key not in BACKEND_SETTINGS}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src.resolve()), env.get("PYTHONPATH", "")])
    return env


def probe_once(env: dict[str, str]) -> dict[str, float]:
    out = timed([sys.executable, "-c", PROBE, str(IMAGE), QUESTION], env)[2]
    line = next(li for li in out.splitlines() if li.startswith("PHASES "))
    return json.loads(line.removeprefix("PHASES "))


def startup(repeats: int, envs: list[dict[str, str]]) -> tuple[list[tuple[str, list[float | None], list[str]]], list]:
    """One row per measurement with a value and a note per tree. With several trees every command runs on
    each tree in turn (A B A B ...), so a shared machine's load falls on all of them alike; the asks through a
    running server come after, tree by tree (A A A, B B B: each tree's server is started once). Also returns
    the 1-minute load average seen at each cold run."""
    vreason = str(BIN / "vreason")
    commands: list[tuple[str, object]] = [
        ("version", lambda env: timed([vreason, "--version"], env)),
        ("ask", lambda env: timed([vreason, "ask", str(IMAGE), QUESTION, "--temperature", "0"], env)),
        ("serve", serve_ready),
        ("api", lambda env: timed([sys.executable, "-c", API], env)),
        ("probe", probe_once),
    ]
    runs: dict[str, list[list]] = {name: [[] for _ in envs] for name, _ in commands}
    loads = []
    for _ in range(repeats):
        for name, run in commands:
            for index, env in enumerate(envs):
                runs[name][index].append(run(env))
                loads.append(os.getloadavg()[0])
    # after the cold runs, so none of them shares the machine with a loaded server
    runs["warm"] = [warm_asks(env, repeats) for env in envs]
    rows: list[tuple[str, list[float | None], list[str]]] = []

    def row(title: str, name: str, rss_name: str = "peak RSS", rss: int = 1, cpu: int = 3, answer: bool = False):
        values, notes = [], []
        for tree_runs in runs[name]:
            if not tree_runs:  # this tree could not run it (the error is on stderr)
                values.append(None)
                notes.append("failed")
                continue
            values.append(statistics.median(r[0] for r in tree_runs))
            note = (
                f"CPU {statistics.median(r[cpu] for r in tree_runs):.2f} s; {rss_name} "
                f"{statistics.median(r[rss] for r in tree_runs) / MiB:,.0f} MiB"
            )
            if answer:
                note += f"; answer {tree_runs[0][2].strip().splitlines()[-1]!r}"
            notes.append(note)
        rows.append((title, values, notes))

    row("`vreason --version`", "version")
    row("`vreason ask` to answer printed", "ask", answer=True)
    row("`vreason serve` to /health 200", "serve", "RSS when ready", cpu=2)
    row("`VReason()` in a fresh process", "api")
    row("`vreason ask` through a running `vreason serve`", "warm", answer=True)
    phase_names: list[str] = []
    for tree_runs in reversed(runs["probe"]):  # the last tree's order (--against's extra phases after)
        phase_names += [n for n in tree_runs[0] if n not in phase_names]
    for name in phase_names:
        values = [
            statistics.median(r[name] for r in tree_runs) if name in tree_runs[0] else None
            for tree_runs in runs["probe"]
        ]
        rows.append((f"ask phase: {name}", values, ["" for _ in envs]))
    return rows, loads


def memory(requests: int, rounds: int, max_tokens: int) -> list[tuple[str, float, str]]:
    """Peak RSS of `vreason serve` on the tiny model under the load test's workload."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import asyncio

    import load_test as lt

    model_dir = lt.ensure_model()
    process, url = lt.start_vreason(model_dir)
    rows: list[tuple[str, float, str]] = []
    try:
        rows.append(("RSS when ready", _rss(process.pid) / MiB, _smaps(process.pid)))
        asyncio.run(asyncio.wait_for(lt._warm(url, lt.workload(4, seed=10_000), max_tokens), 300))
        for index in range(1, rounds + 1):
            result = lt.run_http_round(
                f"round {index}", url, lt.MODEL_NAME, lt.workload(requests, seed=index), max_tokens, process.pid
            )
            lost = sum(1 for r in result.results if not r.ok)
            rows.append(
                (
                    f"RSS after round {index} ({requests} concurrent, {result.wall_s:.1f} s, {lost} lost)",
                    _rss(process.pid) / MiB,
                    _smaps(process.pid),
                )
            )
        rows.append(("peak RSS (VmHWM)", _hwm(process.pid) / MiB, lt.cache_summary(url)))
    finally:
        lt.stop(process)
    return rows


def _hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _smaps(pid: int) -> str:
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) * 1024
    anon = fields.get("Anonymous", 0)
    return f"anonymous {anon / MiB:,.0f} MiB, file-backed {(fields.get('Rss', 0) - anon) / MiB:,.0f} MiB"


def table(rows: list[tuple[str, float, str]], unit: str) -> str:
    lines = [f"| what | {unit} | note |", "|---|---:|---|"]
    lines += [f"| {name} | {value:,.2f} | {note} |" for name, value, note in rows]
    return "\n".join(lines)


def ab_table(rows: list[tuple[str, list[float | None], list[str]]], labels: list[str]) -> str:
    """Values side by side, then the notes in the same order."""
    head = " | ".join(f"{label} s" for label in labels) + " | " + " | ".join(f"{label} note" for label in labels)
    lines = [f"| what | {head} |", "|---|" + "---:|" * len(labels) + "---|" * len(labels)]
    for name, values, notes in rows:
        cells = " | ".join("—" if v is None else f"{v:,.2f}" for v in values)
        lines.append(f"| {name} | {cells} | {' | '.join(notes)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per command (median)")
    parser.add_argument("--memory", action="store_true", help="peak RSS of vreason serve under the load test")
    parser.add_argument("--requests", type=int, default=200, help="--memory: concurrent requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="--memory: rounds, fresh images each")
    parser.add_argument("--max-tokens", type=int, default=16, help="--memory: new tokens per request")
    parser.add_argument("--append-results", type=Path, help="append the table to this markdown file")
    parser.add_argument("--label", default="", help="a name for this run in the appended table")
    parser.add_argument(
        "--src",
        type=Path,
        help="run the commands on this source tree (e.g. an older commit's "
        "`git archive REV src | tar -x -C DIR`: DIR/src) instead of the installed one",
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="start-up: also run every command on this source tree (DIR/src), alternating with the other tree "
        "run by run, and put both in one table (before/after in one sitting)",
    )
    parser.add_argument("--against-label", default="before", help="the --against tree's name in the table")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a timeout's SIGTERM still stops the servers started
    for key in BACKEND_SETTINGS:  # --memory's server too is a model server, not a proxy
        os.environ.pop(key, None)
    if args.src and args.memory:  # the server imports vreason from there (ahead of the editable install)
        os.environ.update(tree_env(args.src))
    header = f"{datetime.date.today()}, {cpu_model()}, Python {platform.python_version()}"
    if args.memory:
        rows = memory(args.requests, args.rounds, args.max_tokens)
        text = table(rows, "MiB")
        title = f"`benchmarks/startup_bench.py --memory` ({args.requests} x {args.rounds}) {args.label}".strip()
    else:
        envs, labels = [tree_env(args.src)], [args.label or ("after" if args.against else "this tree")]
        if args.against:
            envs.insert(0, tree_env(args.against))
            labels.insert(0, args.against_label)
        rows, loads = startup(args.repeats, envs)
        text = ab_table(rows, labels)
        title = f"`benchmarks/startup_bench.py` (median of {args.repeats}) {args.label}".strip()
        header += f"; load average {min(loads):.1f}-{max(loads):.1f} (median {statistics.median(loads):.1f})"
    print(f"{title}\n{header}\n\n{text}")
    if args.append_results:
        with args.append_results.open("a") as out:
            out.write(f"\n{title}; {header}:\n\n{text}\n")


if __name__ == "__main__":
    main()
