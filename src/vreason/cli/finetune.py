"""`vreason finetune`: supervised fine-tuning on a JSONL dataset of image and video conversations (rows with
"image" or "video", or `messages` with image and video parts; a video row may carry its sampling options)."""

from __future__ import annotations

from typing import Annotated

import typer

from vreason.cli import options as o
from vreason.cli.option_groups import with_option_groups
from vreason.train.grouping import DEFAULT_GROUP_QUESTIONS

# The checkpoint to train and how to load it; quantization comes from --method qlora, adapters are the output.
TrainLoading = Annotated[o.LoadingOptions, o.Fields("model", "max_pixels", "min_pixels", "device", "dtype")]


@with_option_groups
def finetune(
    data: Annotated[str, typer.Option("--data", help=(
        "Training JSONL (messages form, or image or video with question/answer; video rows may set fps, "
        "max_frames, start, end, ...)."))],
    output: Annotated[str, typer.Option("--output", "-o", help="Where the fine-tuned model (or adapter) goes.")],
    loading: TrainLoading,
    eval_data: Annotated[str | None, typer.Option(help="Evaluation JSONL (default: hold out --eval-fraction).")] = None,
    eval_fraction: Annotated[float, typer.Option(help="Share of training rows held out for evaluation.")] = 0.05,
    method: Annotated[str, typer.Option(help="lora | qlora (4-bit base, CUDA) | full")] = "lora",
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    lora_alpha: Annotated[int, typer.Option(help="LoRA alpha.")] = 32,
    target_modules: Annotated[
        str, typer.Option(help="Comma-separated module names that get LoRA adapters.")
    ] = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
    train_vision: Annotated[bool, typer.Option(help="Also train the vision tower (frozen by default).")] = False,
    epochs: Annotated[float, typer.Option(help="Passes over the training data.")] = 1.0,
    max_steps: Annotated[int, typer.Option(help="Stop after this many optimizer steps (overrides --epochs).")] = -1,
    batch_size: Annotated[int, typer.Option(help="Conversations per step.")] = 8,
    grad_accum: Annotated[int, typer.Option(help="Gradient accumulation steps.")] = 1,
    group_questions: Annotated[int, typer.Option(
        help="Train up to N single-question rows about the same image or clip as one sequence (encoded once, "
             "no question seeing another's answer); 1 trains every row alone.")] = DEFAULT_GROUP_QUESTIONS,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate (default 2e-4 LoRA, 5e-5 full).")] = None,
    eval_steps: Annotated[int, typer.Option(help="Evaluate (loss and exact match) every N steps.")] = 200,
    save_steps: Annotated[int, typer.Option(help="Write a checkpoint every N steps.")] = 200,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --output.")] = False,
    save_adapter: Annotated[bool, typer.Option("--save-adapter", help="LoRA: write the adapter, not merged weights.")]
    = False,
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows", help="Skip unreadable rows and count them.")]
    = False,
    seed: Annotated[int, typer.Option(help="Seed for shuffling, the eval split and initialisation.")] = 0,
    workers: Annotated[int, typer.Option(help="Processes that build batches beside training (GPU: 4-8).")] = 0,
    time_limit: Annotated[float | None, typer.Option(
        help="Stop and save after this many seconds of training (the schedule keeps its length).")] = None,
    stop_after_steps: Annotated[int | None, typer.Option(
        help="Stop and save after this many steps (the schedule keeps the length --epochs/--max-steps plan).")]
    = None,
) -> None:
    """Fine-tune a Qwen3-VL checkpoint (LoRA, QLoRA or full) on your own image or video conversations."""
    from vreason.train.finetune import FinetuneConfig
    from vreason.train.finetune import finetune as run

    config = FinetuneConfig(
        train_data=data, output_dir=output, model=loading.model, eval_data=eval_data, eval_fraction=eval_fraction,
        method=method, lora_r=lora_r, lora_alpha=lora_alpha,
        target_modules=tuple(m.strip() for m in target_modules.split(",") if m.strip()),
        train_vision=train_vision, epochs=epochs, max_steps=max_steps, batch_size=batch_size,
        grad_accum=grad_accum, group_questions=group_questions, learning_rate=lr, eval_steps=eval_steps,
        save_steps=save_steps, seed=seed,
        resume=resume, save_adapter=save_adapter, skip_bad_rows=skip_bad_rows, min_pixels=loading.min_pixels,
        max_pixels=loading.max_pixels, device=loading.device, dtype=loading.dtype, workers=workers,
        time_limit_s=time_limit, stop_after_steps=stop_after_steps,
    )
    result = run(config)
    em = "n/a" if result.eval_exact_match is None else f"{result.eval_exact_match:.3f}"
    kind = "adapter" if save_adapter else "model"
    print(f"wrote {kind} to {result.output_dir}: {result.steps} steps, train loss {result.train_loss:.4f}, "
          f"eval exact match {em}, {result.trainable_params:,} of {result.total_params:,} parameters trained"
          + (f", {result.skipped_rows} bad rows skipped" if result.skipped_rows else ""))
