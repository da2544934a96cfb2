"""Continue the built-in model's chain of follow-up runs from a fresh checkout, and install a run that earned it.

    python -m vreason.train.demo_continue train MIX:STEPS:LR [MIX:STEPS:LR ...] [--work .cache/demo-build]
    python -m vreason.train.demo_continue install .cache/demo-build/v2-19 --metrics M.json --section "HEADING"

The shipped model (src/vreason/assets/demo-model) is the end of a chain: the recipe's stages, then follow-up
runs each on its own data mix (train/demo_v2_mixes.py), all listed in its training_summary.json. `train` goes on
from there with the recipe's own pieces and seeds, so that a run made here is one the recipe's command would
make in the same place of the chain:
- the second stage's data folder (`WORK/v2-data`) is written with the sizes and seed the summary records, when
  it is missing (`demo_v2.write_data`; ~2 minutes on 2 cores);
- of the chain's mixes, only the ones the new follow-ups sample are written, each with the seed of its place k
  in the chain (seed + 10 + k, as the recipe's `_build_v2` does); a mix file already there is kept;
- follow-up k trains with `demo_v2.follow_up_config` (training seed seed + k) into `WORK/v2-{k + 1}`, from the
  shipped model or the run before it; one written `MIX:STEPS:LR:grow=T/V` (demo_chain.py) trains from that model
  grown by T text layers and V vision blocks (grow.py), written first into `WORK/v2-{k + 1}-grown`.
Each stage leaves its record (stage.json: result, seconds, machine) beside its output, as the recipe's stages
do, and a stage with a record is not run again: after an interruption the same command goes on. A run folder
is marked with what it is for (follow_up.json: mix, place, seed, steps) before it trains, and `train` refuses,
before writing anything, a folder that holds another follow-up (the shipped chain grew by an install since, say):
its record or checkpoints would otherwise be taken as the new run's. `install`
copies a trained run into the package and appends to training_summary.json its mix's and its own stage records,
its follow-up entry and the metrics of a full `demo_eval` (`python -m vreason.train.demo_eval --model RUN
--out M.json`), then rewrites the model card. Install only a run measured to meet every bar the last one met;
the `install` command first asks the run the README's memory example for 10 new users (`--memory-trials`) and
refuses it unless every answer is the README's.
"""

from __future__ import annotations

import argparse
import ast
import json
from dataclasses import asdict, replace
from pathlib import Path

from vreason.train.demo_chain import FollowUp, check_order, recorded_growth
from vreason.train.demo_stages import STAGE_RECORD, install_loadable, run_stage, wall_s
from vreason.train.demo_v2 import V2Config
from vreason.train.demo_v2_mixes import MIXES, mix_folder, mix_path
from vreason.train.grow import Growth, grown_folder

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "demo-model"
MEMORY_TRIALS = 10  # new users asked the README's memory example before an install
_INTS = ("varied_scenes", "plain_scenes", "clips", "batch_size", "color_jitter", "seed", "workers")


def recorded_config(summary: dict) -> V2Config:
    """The second stage's settings as the summary records them (every value there is a string)."""
    config = summary["v2"]["config"]
    numbers = {name: int(config[name]) for name in _INTS}
    return V2Config(**numbers, easy_vqa=config.get("easy_vqa", "True") == "True",
                    steps=ast.literal_eval(config["steps"]), learning_rates=ast.literal_eval(config["learning_rates"]),
                    train_vision=ast.literal_eval(config["train_vision"]))


def shipped_chain(summary: dict) -> tuple[FollowUp, ...]:
    """The follow-ups that made the shipped model, in order (with their planned schedule lengths)."""
    return tuple(FollowUp.from_record(f) for f in summary["v2"]["follow_ups"])


def sampled_mixes(new: tuple[FollowUp, ...]) -> set[str]:
    """The new follow-ups' mixes and every mix they sample, directly or through another mix."""
    wanted: set[str] = set()
    todo = [f.mix for f in new]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo += [s for s in MIXES[name].sources if s != "all"]
    return wanted


def mix_seeds(chain: tuple[FollowUp, ...], config: V2Config) -> dict[str, int]:
    """Each mix's seed: that of its first place in the chain, as the recipe writes it."""
    seeds: dict[str, int] = {}
    for k, follow in enumerate(chain):
        seeds.setdefault(follow.mix, config.seed + 10 + k)
    return seeds


# what a run folder is for: written before its training starts, so a folder left by another chain (another mix or
# place: the chain grew by an install since) is refused, not resumed from its checkpoints or reused by its record
PLAN = "follow_up.json"
_PLANNED = ("mix", "chain_index", "seed", "learning_rate", "planned_steps", "grow")


class RunFolderTaken(ValueError):
    """A run folder holds another follow-up than the one to train there."""


def check_run_folder(output: Path, facts: dict) -> None:
    """Raise RunFolderTaken if `output` holds a run planned with other `facts` (its PLAN, or the stage record of
    a run made before PLAN was written)."""
    for name in (PLAN, STAGE_RECORD):
        if (output / name).is_file():
            held = json.loads((output / name).read_text())
            if any(held.get(key) != facts.get(key) for key in _PLANNED):
                raise RunFolderTaken(
                    f"{output} holds follow-up {held.get('chain_index', -1) + 1} on mix {held.get('mix')!r}, not "
                    f"follow-up {facts['chain_index'] + 1} on {facts['mix']!r} (new follow-ups go after the shipped "
                    f"chain's runs: list only those after it); move the folder away or pass another --work")
            return


def train(new: tuple[FollowUp, ...], work: Path, model: Path = SHIPPED) -> list[Path]:
    """Train `new` after the chain that made `model`; returns the run folders, in order."""
    from vreason.train import demo_v2, demo_v2_mixes
    from vreason.train.finetune import finetune

    summary = json.loads((model / "training_summary.json").read_text())
    shipped = shipped_chain(summary)
    chain = shipped + tuple(new)
    check_order(chain)
    config = replace(recorded_config(summary), follow_ups=chain)
    folder = work / "v2-data"
    runs, base = [], model
    for j, follow in enumerate(new):  # every run folder checked before anything is written or trained
        k = len(shipped) + j
        output = work / f"v2-{k + 1}"
        grown = grown_folder(output) if follow.grow else None  # the run trains from it, grown from `base`
        run = demo_v2.follow_up_config(mix_path(folder, follow.mix), grown or base, output, config, k)
        facts = {"mix": follow.mix, "chain_index": k, "base": str(base), "seed": run.seed,
                 "learning_rate": follow.learning_rate, "planned_steps": follow.steps, **follow.record()}
        check_run_folder(output, facts)
        runs.append((follow, output, run, facts))
        base = output
    if not (folder / "all_train.jsonl").is_file():
        sizes = {"varied_scenes": config.varied_scenes, "plain_scenes": config.plain_scenes, "clips": config.clips}
        run_stage(folder, lambda: demo_v2.write_data(folder, config), {"sizes": sizes})
    wanted, seeds = sampled_mixes(tuple(new)), mix_seeds(chain, config)
    for name in [f.mix for f in chain if f.mix in wanted]:  # chain order: a mix's sources are written first
        if not mix_path(folder, name).is_file():
            run_stage(mix_folder(folder, name),
                      lambda name=name: str(demo_v2_mixes.write_mix(folder, name, seeds[name], config.workers)),
                      {"seed": seeds[name]})
    outputs = []
    for follow, output, run, facts in runs:
        if follow.grow:
            grow_stage(Path(facts["base"]), grown_folder(output), follow.grow)
        output.mkdir(parents=True, exist_ok=True)
        (output / PLAN).write_text(json.dumps(facts, indent=1))
        record = run_stage(output, lambda run=run: asdict(finetune(run)), facts)
        print(f"run {facts['chain_index'] + 1} ({follow.mix}): {record['result']['steps']} steps, loss "
              f"{record['result']['train_loss']:.4f}, {record['seconds']:.0f} s", flush=True)
        outputs.append(output)
    return outputs


def grow_stage(source: Path, grown: Path, growth: Growth) -> dict:
    """Grow `source` into `grown` as a stage (its record says the growth; a grown folder with a record is kept)."""
    from vreason.train.grow import grow

    return run_stage(grown, lambda: str(grow(source, grown, growth)), growth.facts())


def install(run_dir: Path, metrics: dict, section: str, out: Path = SHIPPED, work: Path | None = None,
            memory_trials: int = 0) -> dict:
    """Make `run_dir` (a `train` run that follows `out`'s chain directly) the built-in model; returns the new
    summary. `section`: the benchmarks/RESULTS.md heading that tells the run, cited in its records' notes.
    `memory_trials` > 0: first ask the run the README's memory example (check_memory_example). ValueError, with
    nothing written, for a run that may not be installed."""
    from vreason.train.demo_card import model_card

    record = json.loads((run_dir / STAGE_RECORD).read_text())
    summary = json.loads((out / "training_summary.json").read_text())
    k = len(summary["v2"]["follow_ups"])
    if record["chain_index"] != k:
        raise ValueError(f"{run_dir} is follow-up {record['chain_index'] + 1} of its chain; {out} ends at "
                         f"follow-up {k}: install the runs in order")
    mix = record["mix"]
    folder = (work or run_dir.parent) / "v2-data"
    stages = summary["stages"]
    mix_record_file = mix_folder(folder, mix) / STAGE_RECORD
    if f"v2-mix-{mix}" not in stages:  # a mix trained on before keeps its first record
        if not mix_record_file.is_file():
            raise ValueError(f"{mix_record_file} is missing: the mix was not written by `demo_continue train`")
        mixed = json.loads(mix_record_file.read_text())
        stages[f"v2-mix-{mix}"] = {"seconds": mixed["seconds"], "machine": mixed["machine"],
                                   "note": f"written by `demo_continue train` with the recipe's `write_mix` (seed "
                                           f"{mixed['seed']}; benchmarks/RESULTS.md, \"{section}\")."}
    grown = grown_folder(run_dir) / STAGE_RECORD
    if record.get("grow"):  # the growth before it is a stage of its own: its seconds and machine
        if not grown.is_file():
            raise ValueError(f"{grown} is missing: the run trained from a grown model `demo_continue train` did not "
                             "record")
        made = json.loads(grown.read_text())
        stages[f"v2-{k + 1}-grown"] = {"seconds": made["seconds"], "machine": made["machine"],
                                       "note": f"grown by {recorded_growth(record).words()} (train/grow.py) from "
                                               f"follow-up run {k} (benchmarks/RESULTS.md, \"{section}\")."}
    stages[f"v2-{k + 1}"] = {"seconds": record["seconds"], "machine": record["machine"],
                             "note": f"trained by `demo_continue train` with the recipe's `follow_up_config` "
                                     f"(training seed {record['seed']}) from follow-up run {k} (benchmarks/"
                                     f"RESULTS.md, \"{section}\")."}
    summary["wall_s"] = wall_s(stages)
    result = record["result"]
    summary["v2"]["follow_ups"].append({"mix": mix, "steps": result["steps"], "planned_steps": record["planned_steps"],
                                        "learning_rate": record["learning_rate"],
                                        "train_loss": result["train_loss"],
                                        **({"grow": record["grow"]} if record.get("grow") else {})})
    summary["metrics"] = metrics
    summary["params"] = result["total_params"]  # the run's own count: a grown run has more than the recipe built
    if memory_trials > 0:  # after the cheap checks above: it loads the run and asks it (~0.5 s a user)
        check_memory_example(run_dir, memory_trials)
    install_loadable(run_dir, out)
    (out / "training_summary.json").write_text(json.dumps(summary, indent=1))
    (out / "README.md").write_text(model_card(summary))
    return summary


def check_memory_example(run_dir: Path, sessions: int = MEMORY_TRIALS) -> None:
    """ValueError naming the answers when `run_dir` does not answer the README's memory example as documented for
    every one of `sessions` new users (train/memory_example.py; ~0.5 s a user on 2 cores). The bars of `demo_eval`
    do not ask it, and a run that met them all once broke the example for 25 users in 30."""
    from vreason.train.memory_example import misses, trials

    wrong = misses(trials(sessions, str(run_dir)))
    if wrong:
        raise ValueError(f"{run_dir} does not answer the README's memory example every time ({sessions} new "
                         f"users): " + "; ".join(wrong))


def parse_follow_up(spec: str) -> FollowUp:
    try:
        return FollowUp.parse(spec)
    except ValueError as error:
        raise SystemExit(f"{spec}: expected MIX:STEPS:LR[:STOP][:grow=T/V] with a mix of demo_v2_mixes.MIXES "
                         f"({error})") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    trainer = verbs.add_parser("train", help="train follow-ups after the shipped model's chain")
    trainer.add_argument("follow_ups", nargs="+", metavar="MIX:STEPS:LR[:STOP][:grow=T/V]")
    trainer.add_argument("--work", type=Path, default=Path(".cache/demo-build"))
    installer = verbs.add_parser("install", help="make a trained follow-up the built-in model")
    installer.add_argument("run", type=Path)
    installer.add_argument("--metrics", type=Path, required=True, help="its full demo_eval metrics.json")
    installer.add_argument("--section", required=True, help="the benchmarks/RESULTS.md heading that tells the run")
    installer.add_argument("--out", type=Path, default=SHIPPED)
    installer.add_argument("--memory-trials", type=int, default=MEMORY_TRIALS,
                           help="new users asked the README's memory example first; every answer must be the "
                                "README's (0: not asked)")
    args = parser.parse_args(argv)
    if args.verb == "train":
        new = tuple(parse_follow_up(spec) for spec in args.follow_ups)
        try:
            check_order(shipped_chain(json.loads((SHIPPED / "training_summary.json").read_text())) + new)
        except ValueError as error:
            raise SystemExit(str(error)) from None
        try:
            train(new, args.work)
        except RunFolderTaken as error:
            raise SystemExit(str(error)) from None
    else:
        try:
            summary = install(args.run, json.loads(args.metrics.read_text()), args.section, args.out,
                              memory_trials=args.memory_trials)
        except ValueError as error:
            raise SystemExit(str(error)) from None
        print(f"installed {args.run} as follow-up {len(summary['v2']['follow_ups'])}; wall_s {summary['wall_s']}")


if __name__ == "__main__":
    main()
