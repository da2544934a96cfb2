"""Reproduce the built-in demo model from scratch: data, tokenizer, random Qwen3-VL, vision warm-up,
`finetune`, evaluation, model card. One command:

    python -m vreason.train.demo_recipe --out src/vreason/assets/demo-model      (or: make demo-model)

Everything is deterministic given --seed (on one kind of machine: CPU and GPU kernels round differently).
Each stage records its result, seconds and machine beside its output; the model card shows them, and
--reuse goes on from the first stage without a record (so stages may run on different machines).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from vreason.train.demo_card import model_card
from vreason.train.demo_sizes import DEMO_MAX_PIXELS, DEMO_MIN_PIXELS, DEMO_SIZES
from vreason.train.demo_stages import STAGE_RECORD, install_loadable, run_stage, wall_s
from vreason.train.demo_v2 import V2Config

# Words of the chat template and of everyday questions, so they are whole tokens too.
EXTRA_CORPUS = ["system", "user", "assistant", "You are a helpful assistant.", "What is in the image?",
                "Describe the image.", "How many objects are there?", "What colour is it?"]


@dataclass
class RecipeConfig:
    out: Path
    work: Path
    scenes: int = 30000
    # vision warm-up (vision_warmup.py); then the tower stays frozen while the language model learns to read
    # it: trained on through the language model at lr 1e-3 it forgot shapes again (easy-VQA shape questions
    # 0.38 after 700 steps), frozen they reached 0.91 after 400
    warmup_steps: int = 800
    # each token also learns its row and column (eighths of the picture) in the warm-up, so that where a
    # thing is can be read like its colour
    position_bins: int = 8
    epochs: float = 5.0
    batch_size: int = 32  # sequences: an image and up to 16 questions about it
    learning_rate: float = 1e-3
    # end the main run at this step while its schedule stays planned for `epochs` (None: run them all); the
    # shipped model's main run was cut by a time limit (--time-limit) at this step
    stop_after_steps: int | None = 3855
    # then shorter runs at a lower learning rate, each from where the last ended, each on its own fresh
    # scenes (seed + 3, seed + 4, ...) whose colours stray from the palette by up to settle_color_jitter per
    # channel, so that shades off the palette keep their names (circles strayed up to 35: 0.99 named right,
    # 0.98 when the second run saw the palette only)
    settle_steps: tuple[int, ...] = (1000, 2500)
    settle_learning_rate: float = 3e-4
    settle_color_jitter: int = 40
    seed: int = 0
    evaluate_easy_vqa_limit: int | None = None
    workers: int = 0  # batch-building processes per fine-tuning run (a GPU needs several to stay busy)
    time_limit_s: float | None = None  # each fine-tuning run stops after this long (a fixed GPU slot)
    # keep what an earlier run of the same settings left in `work` (data, warmed checkpoint, finished
    # fine-tuning runs: each stage's output is deterministic) and go on from the first stage not done
    reuse: bool = False
    eval_answers: int = 300  # held-out answers generated at each evaluation of the main run (0: loss only)
    eval_fraction: float = 0.01  # of the training rows held out for the main run's evaluation loss
    evaluate: bool = True  # False: train only (measure later with `make eval-demo`; no card is written)
    # the second stage (demo_v2.py: varied pictures, open and JSON questions, clips) from the settled model;
    # None: stop after settling (the shipped built-in model then had follow-up runs alone: its card says which)
    v2: V2Config | None = None
    # start the second stage from this checkpoint (a first stage's output: one with no second stage of its own)
    # instead of running warm-up, main run and settling again; its training_summary.json is carried over
    from_model: Path | None = None


def build(config: RecipeConfig) -> dict:
    """Run every stage (data, warm-up, main run, settling runs), evaluate, install into `config.out`. Each stage
    writes a record (its result, seconds and machine) beside its output; with `config.reuse` a stage whose
    record exists is not run again, and its data is not even written."""
    from vreason.models.compact_tokenizer import train_compact_tokenizer
    from vreason.models.scratch import build_scratch_checkpoint
    from vreason.train.demo_data import WARMUP_ATTRIBUTES, corpus, warmup_samples
    from vreason.train.finetune import FinetuneConfig, FinetuneResult, finetune
    from vreason.train.vision_warmup import WarmupConfig, WarmupResult, warm_up_vision

    work = config.work
    if config.from_model is not None and not config.reuse and Path(config.from_model).resolve().is_relative_to(
            work.resolve()):
        raise ValueError(f"--from-model {config.from_model} lies inside --work {work}, which a build without --reuse "
                         "empties first: add --reuse or move it")
    if work.exists() and not config.reuse:
        shutil.rmtree(work)
    stages: dict[str, dict] = {}

    def stage(name: str, folder: Path, run, result_type=None, extra: dict | None = None):
        """Run a stage, or take its record; `extra`: facts of how it ran, written into a new record (read from the
        record itself when reused, so a record made by other code keeps saying what that code did)."""
        # without --reuse the work folder was emptied above, so a record is this build's own (the main run
        # asks again for the data the warm-up already wrote)
        record = run_stage(folder, lambda: asdict(run()) if result_type else run(), extra)
        # a record may carry a note on how it was made (a run adopted from an experiment script says so)
        stages[name] = {"seconds": record["seconds"], "machine": record["machine"],
                        **({"note": record["note"]} if record.get("note") else {})}
        if result_type is None:
            return record["result"]
        return result_type(**{f.name: record["result"][f.name] for f in fields(result_type)})

    def data(folder: Path, shapes_seed: int, jitter: int) -> Path:
        stage(folder.name, folder, lambda: _write_data(folder, config.scenes, shapes_seed, config.seed, jitter)[0])
        return folder / "all_train.jsonl"

    def warm_up() -> WarmupResult:
        train_file = data(work / "data", config.seed + 1, 0)
        tokenizer = train_compact_tokenizer(corpus(train_file) + EXTRA_CORPUS)
        base = build_scratch_checkpoint(work / "scratch", DEMO_SIZES, tokenizer=tokenizer, seed=config.seed,
                                        min_pixels=DEMO_MIN_PIXELS, max_pixels=DEMO_MAX_PIXELS)
        return warm_up_vision(base, work / "warm", warmup_samples(seed=config.seed + 2), WARMUP_ATTRIBUTES,
                              config=WarmupConfig(steps=config.warmup_steps, seed=config.seed,
                                                  position_bins=config.position_bins))

    if config.from_model is not None:
        return _build_v2(config, Path(config.from_model), stage, stages)
    warm = stage("warmup", work / "warm", warm_up, WarmupResult)
    main_run = FinetuneConfig(
        train_data=str(work / "data" / "all_train.jsonl"),
        output_dir=str(work / "trained"),
        model=str(work / "warm"),
        eval_fraction=config.eval_fraction,
        eval_max_answers=config.eval_answers,
        method="full",
        train_vision=False,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_ratio=0.03,
        weight_decay=0.01,
        eval_steps=2000,
        save_steps=500,
        seed=config.seed,
        dtype="float32",
        workers=config.workers,
        time_limit_s=config.time_limit_s,
        stop_after_steps=config.stop_after_steps,
    )

    def main() -> FinetuneResult:
        data(work / "data", config.seed + 1, 0)
        return finetune(main_run)

    result = stage("train", work / "trained", main, FinetuneResult)
    final = work / "trained"
    settled = []
    for i, steps in enumerate(config.settle_steps):
        # the main run's settings, from where the last run ended, on fresh data; no held-out split
        run = replace(main_run, output_dir=str(work / f"settled-{i + 1}"), model=str(final), eval_fraction=0.0,
                      max_steps=steps, learning_rate=config.settle_learning_rate, stop_after_steps=None,
                      train_data=str(work / f"settle-data-{i + 1}" / "all_train.jsonl"))

        def settle(run=run, i=i) -> FinetuneResult:
            data(Path(run.train_data).parent, config.seed + 3 + i, config.settle_color_jitter)
            return finetune(run)

        settled.append(stage(f"settle-{i + 1}", Path(run.output_dir), settle, FinetuneResult))
        final = Path(run.output_dir)
    if config.v2 is not None:
        (final / "training_summary.json").write_text(json.dumps(_first_summary(
            work, result, warm, settled, stages, config), indent=1))
        return _build_v2(config, final, stage, stages)
    summary = _first_summary(work, result, warm, settled, stages, config)
    summary["wall_s"] = wall_s(summary["stages"])
    return _finish(final, config, summary)


def _first_summary(work: Path, result, warm, settled: list, stages: dict, config: RecipeConfig) -> dict:
    """What the first stage (warm-up, main run, settling) did, as the card reads it."""
    data_record = json.loads((work / "data" / STAGE_RECORD).read_text())
    stages.setdefault("data", {"seconds": data_record["seconds"], "machine": data_record["machine"]})
    return {
        "train_rows": data_record["result"],
        "train_loss": result.train_loss,
        "steps": result.steps,
        "params": result.total_params,
        "warmup": {"steps": warm.steps, "object_accuracy": warm.object_accuracy,
                   "token_accuracy": warm.token_accuracy},
        "settle": [{"steps": r.steps, "train_loss": r.train_loss} for r in settled],
        "stages": dict(stages),
        "config": {k: str(v) for k, v in config.__dict__.items() if k not in ("v2", "from_model")},
    }


def _build_v2(config: RecipeConfig, base: Path, stage, stages: dict) -> dict:
    """The second stage (demo_v2.py) from `base`, whose training_summary.json says how the first was made."""
    from vreason.train import demo_v2, demo_v2_mixes
    from vreason.train.finetune import FinetuneResult, finetune
    from vreason.train.grow import grow, grown_folder

    v2 = config.v2 or V2Config()
    record = base / "training_summary.json"  # how the first stage made `base` (none: a checkpoint from elsewhere)
    first = json.loads(record.read_text()) if record.is_file() else {"stages": {}}
    if "v2" in first:  # the card tells one second stage from the settled model; a chain is not recorded
        raise ValueError(f"{base} already had a second stage: start from the first stage's model")
    if not v2.steps and not v2.follow_ups:
        raise ValueError("the second stage needs a run or a follow-up")
    folder = config.work / "v2-data"
    sizes = {"varied_scenes": v2.varied_scenes, "plain_scenes": v2.plain_scenes, "clips": v2.clips}
    rows = stage("v2-data", folder, lambda: demo_v2.write_data(folder, v2), extra={"sizes": sizes})
    written = json.loads((folder / STAGE_RECORD).read_text()).get("sizes", sizes)
    if written != sizes:  # a reused folder of other sizes would train on data the card does not describe
        raise ValueError(f"{folder} holds second-stage data of other sizes ({written}); this build asks for {sizes}: "
                         "use another --work or the same --v2-varied-scenes/--v2-plain-scenes/--v2-clips")
    results, clip_questions = [], []
    for i in range(len(v2.steps)):
        repeats = v2.repeats(i)
        run = demo_v2.finetune_config(demo_v2.run_data_path(folder, repeats), base, config.work / f"v2-{i + 1}", v2, i)

        facts: dict = {}  # how the run's file holds clip questions, read from the file it trains on

        def train(run=run, repeats=repeats, facts=facts):  # a reused run's file is not written again
            facts["clip_questions"] = demo_v2.clip_questions(demo_v2.run_data(folder, repeats))
            return finetune(run)

        # runs recorded before clip questions were grouped (no "clip_questions") took them as one conversation,
        # in which an earlier question could give a later answer away
        results.append(stage(f"v2-{i + 1}", Path(run.output_dir), train, FinetuneResult, extra=facts))
        record = json.loads((Path(run.output_dir) / STAGE_RECORD).read_text())
        clip_questions.append(record.get("clip_questions", "conversation"))
        base = Path(run.output_dir)
    follow_ups = []
    for k, follow in enumerate(v2.follow_ups):
        # the mix's file is found from the folder, not the record: a reused work folder may be spelled or placed
        # differently from the run that wrote it
        stage(f"v2-mix-{follow.mix}", demo_v2_mixes.mix_folder(folder, follow.mix),
              lambda follow=follow, k=k: str(demo_v2_mixes.write_mix(folder, follow.mix, v2.seed + 10 + k,
                                                                      v2.workers)))
        output = config.work / f"v2-{len(v2.steps) + k + 1}"
        if follow.grow:  # deeper from here on: identity layers added to the run before (grow.py)
            grown = grown_folder(output)
            stage(grown.name, grown, lambda source=base, out=grown, growth=follow.grow: str(grow(source, out, growth)),
                  extra=follow.grow.facts())
            base = grown
        run = demo_v2.follow_up_config(demo_v2_mixes.mix_path(folder, follow.mix), base, output, v2, k)
        result = stage(f"v2-{len(v2.steps) + k + 1}", output, lambda run=run: finetune(run), FinetuneResult)
        follow_ups.append({"mix": follow.mix, "steps": result.steps, "planned_steps": follow.steps,
                           "learning_rate": follow.learning_rate, "train_loss": result.train_loss, **follow.record()})
        base = output
    summary = {key: value for key, value in first.items() if key not in ("metrics", "v2")}
    summary["stages"] = {**first["stages"], **stages}
    summary["wall_s"] = wall_s(summary["stages"])
    summary["v2"] = {"train_rows": rows,
                     "runs": [{"steps": r.steps, "train_loss": r.train_loss, "learning_rate": v2.learning_rates[i],
                               "train_vision": v2.train_vision[i], "clip_repeats": v2.repeats(i),
                               "clip_questions": clip_questions[i]}
                              for i, r in enumerate(results)],
                     "follow_ups": follow_ups,
                     "config": {k: str(v) for k, v in asdict(v2).items()}}
    return _finish(base, config, summary)


def _finish(final: Path, config: RecipeConfig, summary: dict) -> dict:
    """Evaluate `final`, install it into config.out with its summary and card."""
    from vreason.train import demo_eval

    summary["metrics"] = demo_eval.run(str(final), config.evaluate_easy_vqa_limit) if config.evaluate else {}
    install_loadable(final, config.out)
    (config.out / "training_summary.json").write_text(json.dumps(summary, indent=1))
    if summary["metrics"] and "warmup" in summary:  # the card tells the first stage too; a base from elsewhere
        (config.out / "README.md").write_text(model_card(summary))
    return summary


def _write_data(folder: Path, scenes: int, shapes_seed: int, easy_vqa_seed: int, color_jitter: int) -> tuple[int, Path]:
    """Shapes-world scenes and easy-VQA's train split, one JSONL; returns its rows and path."""
    from vreason.train.demo_data import write_easy_vqa, write_shapes_train

    rows = write_shapes_train(folder, scenes, seed=shapes_seed, color_jitter=color_jitter)
    rows += write_easy_vqa(folder, "train", seed=easy_vqa_seed, multi_turn=True)
    train_file = folder / "all_train.jsonl"
    with train_file.open("w") as handle:
        for part in ("train.jsonl", "easy_vqa_train.jsonl"):
            handle.write((folder / part).read_text())
    return rows, train_file


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Train the built-in demo model from scratch.")
    parser.add_argument("--out", type=Path, default=Path("src/vreason/assets/demo-model"))
    parser.add_argument("--work", type=Path, default=Path(".cache/demo-build"))
    parser.add_argument("--scenes", type=int, default=RecipeConfig.scenes)
    parser.add_argument("--warmup-steps", type=int, default=RecipeConfig.warmup_steps)
    parser.add_argument("--position-bins", type=int, default=RecipeConfig.position_bins,
                        help="row and column bins every visual token learns in the warm-up (0: off)")
    parser.add_argument("--epochs", type=float, default=RecipeConfig.epochs)
    parser.add_argument("--settle-steps", type=int, nargs="+", default=list(RecipeConfig.settle_steps),
                        help="steps of each settling run at --settle-lr, each from where the last ended (0: none)")
    parser.add_argument("--stop-after-steps", type=int, default=RecipeConfig.stop_after_steps,
                        help="end the main run at this step, its schedule planned for --epochs (0: run them all)")
    parser.add_argument("--settle-lr", type=float, default=RecipeConfig.settle_learning_rate)
    parser.add_argument("--settle-color-jitter", type=int, default=RecipeConfig.settle_color_jitter)
    parser.add_argument("--batch-size", type=int, default=RecipeConfig.batch_size)
    parser.add_argument("--lr", type=float, default=RecipeConfig.learning_rate)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=RecipeConfig.workers,
                        help="batch-building processes per fine-tuning run")
    parser.add_argument("--time-limit", type=float, help="stop each fine-tuning run after this many seconds")
    parser.add_argument("--no-eval", action="store_true",
                        help="train only; measure later with `make eval-demo` and write the card with --card-only")
    parser.add_argument("--reuse", action="store_true",
                        help="keep every stage an earlier run recorded in --work (same settings) and go on from there")
    parser.add_argument("--easy-vqa-limit", type=int, help="evaluate on the first N test questions only")
    parser.add_argument("--from-model", type=Path,
                        help="run only the second stage (varied pictures, open questions, clips) from this checkpoint")
    parser.add_argument("--v2", action="store_true",
                        help="after settling, run the second stage (varied pictures, open and JSON questions, clips)")
    parser.add_argument("--v2-steps", type=int, nargs="*", default=list(V2Config.steps),
                        help="steps of each second-stage run, each from where the last ended (none: only the "
                             "follow-ups, on the second stage's data)")
    parser.add_argument("--v2-lr", type=float, nargs="+", default=list(V2Config.learning_rates),
                        help="learning rate of each second-stage run")
    parser.add_argument("--v2-vision-runs", type=int, nargs="*", default=[2],
                        help="second-stage runs (1-based) in which the vision tower trains too")
    parser.add_argument("--v2-clip-repeats", type=int, nargs="*", default=[],
                        help="per second-stage run: times each clip's rows are in its training file (default 1)")
    parser.add_argument("--v2-follow-ups", nargs="*", default=[], metavar="MIX:STEPS:LR[:STOP][:grow=T/V]",
                        help="after the second stage's runs, runs on their own data mixes (demo_v2_mixes.MIXES), "
                             "e.g. count:400:1e-4 (with :grow=1/2, from the model before grown by 1 text layer and "
                             "2 vision blocks); 'candidate' for the ones that made the best candidate so far")
    parser.add_argument("--v2-varied-scenes", type=int, default=V2Config.varied_scenes,
                        help="varied pictures in the second stage's data")
    parser.add_argument("--v2-plain-scenes", type=int, default=V2Config.plain_scenes,
                        help="plain (first-stage) pictures in the second stage's data")
    parser.add_argument("--v2-clips", type=int, default=V2Config.clips, help="clips in the second stage's data")
    parser.add_argument("--card-only", action="store_true",
                        help="only rewrite OUT/README.md from OUT/training_summary.json")
    return parser


def v2_config(args: argparse.Namespace) -> V2Config:
    """The second stage's settings from the command line."""
    # `--v2-steps` with no value and the default rates: no runs, so no rates (given rates must match the runs)
    rates = () if not args.v2_steps and args.v2_lr == list(V2Config.learning_rates) else tuple(args.v2_lr)
    return V2Config(varied_scenes=args.v2_varied_scenes, plain_scenes=args.v2_plain_scenes, clips=args.v2_clips,
                    steps=tuple(args.v2_steps), learning_rates=rates, batch_size=args.batch_size,
                    train_vision=tuple(i + 1 in args.v2_vision_runs for i in range(len(args.v2_steps))),
                    workers=args.workers, time_limit_s=args.time_limit, clip_repeats=tuple(args.v2_clip_repeats),
                    follow_ups=_follow_ups(args.v2_follow_ups))


def main() -> None:
    args = parser().parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the warm-up reports its progress by logging
    if args.card_only:
        summary = json.loads((args.out / "training_summary.json").read_text())
        (args.out / "README.md").write_text(model_card(summary))
        return
    v2 = v2_config(args)
    summary = build(RecipeConfig(out=args.out, work=args.work, scenes=args.scenes, warmup_steps=args.warmup_steps,
                                 position_bins=args.position_bins, epochs=args.epochs,
                                 settle_steps=tuple(n for n in args.settle_steps if n > 0),
                                 stop_after_steps=args.stop_after_steps or None, settle_learning_rate=args.settle_lr,
                                 settle_color_jitter=args.settle_color_jitter,
                                 batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed,
                                 evaluate_easy_vqa_limit=args.easy_vqa_limit, workers=args.workers,
                                 time_limit_s=args.time_limit, reuse=args.reuse, evaluate=not args.no_eval,
                                 v2=v2 if args.v2 or args.from_model else None,
                                 from_model=args.from_model))
    print(json.dumps(summary, indent=1))


def _follow_ups(specs: list[str]) -> tuple:
    from vreason.train.demo_chain import CANDIDATE_FOLLOW_UPS, FollowUp, check_order

    if specs == ["candidate"]:
        return CANDIDATE_FOLLOW_UPS
    follow_ups = []
    for spec in specs:
        try:
            follow_ups.append(FollowUp.parse(spec))
        except ValueError as error:
            raise SystemExit(f"--v2-follow-ups {spec}: expected MIX:STEPS:LR[:STOP][:grow=T/V] ({error})") from None
    try:
        check_order(tuple(follow_ups))
    except ValueError as error:
        raise SystemExit(f"--v2-follow-ups: {error}") from None
    return tuple(follow_ups)


if __name__ == "__main__":
    main()
