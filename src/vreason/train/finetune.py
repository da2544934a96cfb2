"""Supervised fine-tuning of any Qwen3-VL checkpoint: LoRA (peft), QLoRA (4-bit base, CUDA) or full.

Built on transformers' Trainer (optimizer, schedule, gradient accumulation, checkpoints, --resume); vreason
adds the collator of image and video conversations (clips sampled and prompted as the engine does),
assistant-only loss, exact-match evaluation by real generation through the same engine the product serves
with, a progress bar, and the output in a standard layout: a merged Hugging Face directory (default) or a
peft adapter (`save_adapter`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler, SequentialSampler
from transformers import PrinterCallback, Trainer, TrainingArguments

from vreason.engine.interface import GenerationRequest
from vreason.engine.local_engine import EngineConfig, LocalEngine
from vreason.engine.sampling import GREEDY
from vreason.engine.types import Answer
from vreason.errors import InvalidRequestError
from vreason.media import checkpoint_budget
from vreason.media.pixel_budget import set_pixel_budget, set_square_pictures
from vreason.media_step import MediaResolver
from vreason.models.loader import LoadedModel, LoadSpec, load_model
from vreason.train.collate import SFTCollator
from vreason.train.dataset import read_jsonl
from vreason.train.grouping import (
    DEFAULT_GROUP_QUESTIONS,
    TrainItem,
    approximate_tokens,
    conversations,
    group_by_media,
    hold_out,
    length_bucketed_order,
)
from vreason.train.progress import RichProgressCallback, StopCallback

logger = logging.getLogger("vreason.train")

METHODS = ("lora", "qlora", "full")
TEXT_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class FinetuneConfig:
    train_data: str
    output_dir: str
    model: str | None = None  # base checkpoint; None: the built-in demo model
    eval_data: str | None = None  # default: hold out eval_fraction of the training rows
    eval_fraction: float = 0.05
    eval_max_answers: int = 200  # assistant turns scored by exact match at each evaluation
    method: str = "lora"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = TEXT_LINEAR
    train_vision: bool = False  # LoRA/full: also adapt the vision tower (frozen by default)
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 8
    grad_accum: int = 1
    learning_rate: float | None = None  # default: 2e-4 for (Q)LoRA, 5e-5 for full
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    eval_steps: int = 200
    save_steps: int = 200
    logging_steps: int = 10
    seed: int = 0
    resume: bool = False
    save_adapter: bool = False  # LoRA: write the adapter only instead of merging it into the weights
    skip_bad_rows: bool = False
    # single-question rows about the same image or clip train as one sequence of up to this many questions (the
    # media encoded once, each question masked from the others: grouping.py); 1 trains every row alone
    group_questions: int = DEFAULT_GROUP_QUESTIONS
    # the picture area trained at (None: the checkpoint's); written into the output's processor, as square_pictures
    min_pixels: int | None = None
    max_pixels: int | None = None
    # pictures stretched to square from this run on (True), kept in shape (False), or as the checkpoint says (None);
    # written into the output's processor, so the engine shows it pictures as it trained (media/pixel_budget.py)
    square_pictures: bool | None = None
    device: str = "auto"
    dtype: str = "auto"  # auto: bf16 on CUDA, float32 on CPU (bf16 weights train poorly without fp32 masters)
    # processes that decode images and build batches beside the training loop: on a GPU the loop outruns
    # one process doing both (a batch of 16 image groups takes ~0.13 s to build on one CPU core)
    workers: int = 0
    # stop (and save) once training has run this long, or after this many steps; the learning-rate schedule
    # keeps the length that epochs/max_steps plan (stop_after_steps repeats where a time-limited run stopped)
    time_limit_s: float | None = None
    stop_after_steps: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidRequestError(f"method ({self.method!r}) must be one of {', '.join(METHODS)}")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise InvalidRequestError(f"eval_fraction ({self.eval_fraction}) must be in [0, 1)")
        if self.batch_size < 1 or self.grad_accum < 1:
            raise InvalidRequestError("batch_size and grad_accum must be >= 1")
        if self.group_questions < 1:
            raise InvalidRequestError(f"group_questions ({self.group_questions}) must be >= 1 (1: no grouping)")
        if self.workers < 0:
            raise InvalidRequestError(f"workers ({self.workers}) must be >= 0")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise InvalidRequestError(f"time_limit_s ({self.time_limit_s}) must be > 0")
        if self.stop_after_steps is not None and self.stop_after_steps < 1:
            raise InvalidRequestError(f"stop_after_steps ({self.stop_after_steps}) must be >= 1")
        if self.save_adapter and self.method == "full":
            raise InvalidRequestError("save_adapter needs --method lora or qlora")
        if self.save_adapter and self.square_pictures is not None:  # an adapter is served with its base's processor
            raise InvalidRequestError("square_pictures needs a merged model, not save_adapter: an adapter is loaded "
                                      "with its base model's processor, which would not say it")


@dataclass
class FinetuneResult:
    output_dir: str
    train_loss: float
    steps: int
    eval_exact_match: float | None
    skipped_rows: int
    trainable_params: int
    total_params: int


class LengthBucketSampler(Sampler):
    """A new length-bucketed order each epoch (epoch number mixed into the seed, so a resumed run repeats it)."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int):
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        rng = random.Random(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1
        return iter(length_bucketed_order(self.lengths, self.batch_size, rng))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


class ItemDataset(Dataset):
    def __init__(self, items: list[TrainItem]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> TrainItem:
        return self.items[index]


def normalize_answer(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().rstrip("."))


def exact_match(engine: LocalEngine, items: list[TrainItem], limit: int) -> tuple[float, int]:
    """Greedy answers to every assistant turn (history as in the data; each question of a group on its own),
    compared after normalization. All questions go to the engine at once, so it batches them."""
    requests: list[GenerationRequest] = []
    expected: list[str] = []
    # the data set's own images and clips, as training read them (clips under the engine's video budget)
    media = MediaResolver(engine.policy, max_images=None, video_budget=engine.video_budget)
    for messages in (m for item in items for m in conversations(item)):
        for index, message in enumerate(messages):
            if message.role != "assistant" or index == 0 or len(requests) >= limit:
                continue
            question = media.resolve(messages[:index])
            requests.append(GenerationRequest(question, GREEDY.updated(max_new_tokens=64), stream=False))
            expected.append(message.text)

    async def answer(request: GenerationRequest) -> Answer:
        return [e async for e in engine.generate(request) if isinstance(e, Answer)][0]

    async def answer_all() -> list[Answer]:
        return list(await asyncio.gather(*(answer(r) for r in requests)))

    answers = asyncio.run(answer_all()) if requests else []
    hits = sum(normalize_answer(a.text) == normalize_answer(e) for a, e in zip(answers, expected, strict=False))
    return (hits / len(requests) if requests else 0.0), len(requests)


class SFTTrainer(Trainer):
    """Trainer whose evaluation also generates answers and scores exact match."""

    def __init__(self, *args: Any, engine_factory: Any, eval_items: list[TrainItem], eval_max: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.engine_factory = engine_factory
        self.eval_items = eval_items
        self.eval_max = eval_max

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        """Batches of items of similar length (less padding), in random order (grouping.length_bucketed_order)."""
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if not isinstance(dataset, ItemDataset):
            return super()._get_train_sampler(train_dataset)
        return LengthBucketSampler([approximate_tokens(item) for item in dataset.items],
                                   self.args.train_batch_size * self.args.gradient_accumulation_steps, self.args.seed)

    def _get_eval_sampler(self, eval_dataset: Any) -> Any:
        """Evaluation loss in data order (the length sampler above is for training)."""
        if isinstance(eval_dataset, ItemDataset):
            return SequentialSampler(eval_dataset)
        return super()._get_eval_sampler(eval_dataset)

    def evaluate(self, eval_dataset: Any = None, ignore_keys: Any = None, metric_key_prefix: str = "eval") -> dict:
        metrics = super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        was_training = self.model.training
        self.model.eval()
        engine = self.engine_factory(self.model)
        try:
            score, count = exact_match(engine, self.eval_items, self.eval_max)
        finally:
            engine.shutdown()
            self.model.train(was_training)
        extra = {f"{metric_key_prefix}_exact_match": score, f"{metric_key_prefix}_answers": float(count)}
        metrics.update(extra)
        self.log(extra)
        return metrics


def finetune(config: FinetuneConfig) -> FinetuneResult:
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = read_jsonl(config.train_data, config.skip_bad_rows)
    skipped = list(train.skipped)
    evaluation = read_jsonl(config.eval_data, config.skip_bad_rows) if config.eval_data else None
    if evaluation:
        skipped += evaluation.skipped
    for reason in skipped:
        logger.warning("skipped %s", reason)
    if skipped:
        logger.warning("skipped %d bad rows", len(skipped))

    loaded = _load_for_training(config)
    group_questions = config.group_questions
    attention = getattr(loaded.model.config, "_attn_implementation", "sdpa")
    if group_questions > 1 and attention not in ("sdpa", "eager"):
        logger.warning("question groups need a 4D attention mask, which %s does not take: training every "
                       "row on its own", attention)
        group_questions = 1
    train_items = group_by_media(train.examples, group_questions)
    if evaluation:
        eval_items = group_by_media(evaluation.examples, group_questions)
    else:
        eval_items, train_items = hold_out(train_items, config.eval_fraction, random.Random(config.seed))
    model = _prepare_trainable(loaded.model, config)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    if config.square_pictures is not None:
        set_square_pictures(loaded.processor, config.square_pictures)
    budget = checkpoint_budget(loaded.processor).updated(config.min_pixels, config.max_pixels)
    if config.min_pixels is not None or config.max_pixels is not None:
        set_pixel_budget(loaded.processor, config.min_pixels, config.max_pixels)  # saved with a merged model
        if config.save_adapter:
            logger.warning("an adapter is served with its base model's processor, which does not record the picture "
                           "area trained at: pass the same --min-pixels/--max-pixels when serving it")
    collator = SFTCollator(loaded.processor, budget, rope_index=loaded.model.model.get_rope_index)

    def engine_factory(current: Any) -> LocalEngine:
        view = LoadedModel(**{**loaded.__dict__, "model": current})
        return LocalEngine(view, EngineConfig(budget=budget))

    on_cuda = loaded.placement.device.startswith("cuda")
    args = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate or (5e-5 if config.method == "full" else 2e-4),
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        weight_decay=config.weight_decay,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        logging_steps=config.logging_steps,
        eval_strategy="steps" if eval_items else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        seed=config.seed,
        report_to=[],
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=config.workers,
        dataloader_persistent_workers=config.workers > 0,
        use_cpu=not on_cuda,
        bf16=on_cuda and loaded.placement.dtype_name == "bfloat16",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=ItemDataset(train_items),
        eval_dataset=ItemDataset(eval_items) if eval_items else None,
        data_collator=collator,
        processing_class=loaded.processor,  # checkpoints then load like the final model (`--model CKPT`)
        engine_factory=engine_factory,
        eval_items=eval_items,
        eval_max=config.eval_max_answers,
    )
    if config.progress:
        trainer.remove_callback(PrinterCallback)  # the progress bar shows loss; eval results are printed there
        trainer.add_callback(RichProgressCallback(config.batch_size * config.grad_accum))
    if config.time_limit_s or config.stop_after_steps:
        trainer.add_callback(StopCallback(config.time_limit_s, config.stop_after_steps))
    resume = config.resume and _has_checkpoint(out / "checkpoints")
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    score = None
    if eval_items:
        score = trainer.evaluate().get("eval_exact_match")
    _save(trainer.model, loaded, out, config)
    summary = FinetuneResult(
        output_dir=str(out),
        train_loss=float(result.training_loss),
        steps=int(result.global_step),
        eval_exact_match=score,
        skipped_rows=len(skipped),
        trainable_params=trainable,
        total_params=total,
    )
    (out / "finetune_result.json").write_text(json.dumps({**asdict(summary), "config": asdict(config)}, indent=1))
    return summary


def _has_checkpoint(folder: Path) -> bool:
    return folder.is_dir() and any(p.name.startswith("checkpoint-") for p in folder.iterdir())


def _load_for_training(config: FinetuneConfig) -> LoadedModel:
    dtype = config.dtype
    if dtype == "auto":
        dtype = "bfloat16" if torch.cuda.is_available() and config.device in ("auto", "cuda") else "float32"
    quantize = "4bit" if config.method == "qlora" else None
    if quantize and not (torch.cuda.is_available() and config.device in ("auto", "cuda")):
        raise InvalidRequestError("--method qlora trains on a 4-bit base through bitsandbytes, which needs a CUDA "
                                  "GPU; on this machine use --method lora")
    return load_model(LoadSpec(model=config.model, device=config.device, dtype=dtype, quantize=quantize))


def _prepare_trainable(model: Any, config: FinetuneConfig) -> Any:
    if config.method == "full":
        for name, param in model.named_parameters():
            param.requires_grad = config.train_vision or not _is_vision(name)
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if config.method == "qlora":
        model = prepare_model_for_kbit_training(model)
    names = "|".join(re.escape(m) for m in config.target_modules)
    # Without train_vision, only the language model's layers get adapters (vision blocks are named
    # differently anyway, but a custom target list could match both).
    scope = r".*" if config.train_vision else r".*language_model.*"
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=rf"{scope}\.({names})$",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def _is_vision(name: str) -> bool:
    return ".visual." in f".{name}" or name.startswith("visual.") or ".visual" in name


def _save(model: Any, loaded: LoadedModel, out: Path, config: FinetuneConfig) -> None:
    if config.method != "full" and not config.save_adapter:
        model = model.merge_and_unload()
    model.save_pretrained(out, safe_serialization=True)
    loaded.processor.save_pretrained(out)
    if config.method == "full" or not config.save_adapter:
        model.generation_config.save_pretrained(out)
