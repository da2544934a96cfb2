"""Fine-tuning on clips, tiny random Qwen3-VL: a video row's prompt is token for token the engine's (its
`<t seconds>` markers, pixels, grid and M-RoPE positions), only the answer is learned, the loss falls on real
H.264 clips (64x64, 1-2 s, encoded here with PyAV), and the adapter or checkpoint answers a video question
through the Python API and through `vreason ask clip.mp4`. The prompt tests use the real Qwen tokenizer; the
training runs use `compact_model_dir` (a 376-token tokenizer: each run loads and saves it)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from vreason import VReason
from vreason.engine.interface import GenerationRequest
from vreason.engine.sampling import GREEDY
from vreason.train.collate import IGNORE, SFTCollator
from vreason.train.dataset import read_jsonl
from vreason.train.finetune import FinetuneConfig, finetune

# The CLI test (a fine-tuning subprocess, then `vreason ask` in another: ~17 s on an idle CPU) is heavy
# (`make test-all`); the LoRA run on clips and the clip rows' prompt, pixels, labels and positions stay in
# `make test` (with tests/unit/test_train_video_rows.py).
pytestmark = pytest.mark.slow

QUESTION = "Which way does the bar move?"
ASK = {"temperature": 0.0, "presence_penalty": 0.0, "max_new_tokens": 4}


def bar_clip(path: Path, rightwards: bool, seconds: float, fps: int = 8, size: int = 64) -> Path:
    """A coloured bar crossing a grey field, right (red) or left (blue), as an H.264 MP4."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width = stream.height = size
    stream.pix_fmt = "yuv420p"
    frames = round(seconds * fps)
    for i in range(frames):
        picture = np.full((size, size, 3), 128, np.uint8)
        x = (size - 12) * i // max(frames - 1, 1)
        x = x if rightwards else size - 12 - x
        picture[:, x : x + 12] = (230, 20, 20) if rightwards else (20, 20, 230)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts, frame.time_base = i, Fraction(1, fps)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


@pytest.fixture(scope="module")
def clip_data(tmp_path_factory) -> Path:
    """Four clips, two each way; short-form rows and `messages` rows with video parts and sampling options."""
    root = tmp_path_factory.mktemp("clips")
    (root / "clips").mkdir()
    rows = []
    for i, (rightwards, seconds) in enumerate([(True, 1.0), (False, 1.0), (True, 2.0), (False, 2.0)]):
        bar_clip(root / "clips" / f"{i}.mp4", rightwards, seconds)
        answer = "right" if rightwards else "left"
        if i < 2:
            rows.append({"video": f"clips/{i}.mp4", "question": QUESTION, "answer": answer, "fps": 4, "max_frames": 4})
        else:
            rows.append(
                {
                    "messages": [
                        {
                            "role": "user",
                            "content": [
                                {"type": "video", "video": f"clips/{i}.mp4", "max_frames": 4},
                                {"type": "text", "text": QUESTION},
                            ],
                        },
                        {"role": "assistant", "content": answer},
                    ]
                }
            )
    (root / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root / "train.jsonl"


@pytest.fixture(scope="module")
def fp32(tiny_model_dir):
    vr = VReason(str(tiny_model_dir), dtype="float32", model_code="transformers")  # the collator and loss: transformers
    yield vr
    vr.close()


def _config(data: Path, out: Path, model: Path, **overrides) -> FinetuneConfig:
    base = dict(
        train_data=str(data),
        output_dir=str(out),
        model=str(model),
        eval_fraction=0.0,
        batch_size=4,
        max_steps=12,
        learning_rate=5e-3,
        warmup_ratio=0.0,
        save_steps=100,
        logging_steps=1,
        progress=False,
        dtype="float32",
    )
    base.update(overrides)
    return FinetuneConfig(**base)


def _loss(vr: VReason, data: Path) -> float:
    batch = SFTCollator(vr.loaded.processor, vr.engine.budget)(read_jsonl(data).examples)
    with torch.no_grad():
        return float(vr.loaded.model(**batch).loss)


def test_video_row_is_the_engines_prompt_token_for_token(fp32, clip_data):
    example = read_jsonl(clip_data).examples[2]  # a `messages` row: video part with max_frames, then the question
    collator = SFTCollator(fp32.loaded.processor, fp32.engine.budget)
    batch = collator([example])
    assert batch["video_grid_thw"][:, 0].tolist() == [2]  # max_frames=4: two temporal patches

    engine = fp32.engine
    question = fp32.aio.media.resolve(example.messages[:1])
    prompt, inputs = engine.prepare(GenerationRequest(question, GREEDY, stream=False))
    times = prompt.videos[0].timestamps  # the decoded frames' own times, two per marker
    assert f"<{(times[0] + times[1]) / 2:.1f} seconds>" in prompt.text
    assert f"<{(times[2] + times[3]) / 2:.1f} seconds>" in prompt.text
    ids = batch["input_ids"][0].tolist()
    assert ids[: len(inputs.token_ids)] == inputs.token_ids  # the prompt is the engine's ...
    learned = [t for t in batch["labels"][0].tolist() if t != IGNORE]
    assert fp32.loaded.processor.tokenizer.decode(learned) == "right<|im_end|>"  # ... and only the answer is learned
    assert all(label == IGNORE for label in batch["labels"][0, : len(inputs.token_ids)].tolist())

    engine_pixels = torch.cat([slot.pixel_values for slot in inputs.images])
    assert torch.equal(batch["pixel_values_videos"], engine_pixels)
    positions, _ = fp32.loaded.model.model.get_rope_index(
        batch["input_ids"],
        mm_token_type_ids=batch["mm_token_type_ids"],
        video_grid_thw=batch["video_grid_thw"],
        attention_mask=batch["attention_mask"],
    )
    assert torch.equal(positions[:, 0, : len(inputs.token_ids)], inputs.positions)

    short = collator([read_jsonl(clip_data).examples[0]])  # a short-form row's own fps and max_frames
    assert short["video_grid_thw"].tolist() == batch["video_grid_thw"].tolist()
    assert (short["mm_token_type_ids"] == 2).sum() == short["video_grid_thw"].prod() // 4  # 2x2 patches merged


def test_questions_about_one_clip_train_as_a_group_each_answer_as_if_asked_alone(fp32, clip_data, tmp_path):
    """The clip is encoded once and every question is a branch that sees the clip and itself: the logits of each
    answer are those of the question asked alone (no answer leaks into a later question, as in a chat)."""
    from vreason.train.grouping import QuestionGroup, group_by_media

    clips = clip_data.parent / "clips"
    rows = []
    for i in (0, 1):  # the first bar moves right (red), the second left (blue)
        right = i == 0
        rows += [{"video": str(clips / f"{i}.mp4"), "question": QUESTION, "answer": "right" if right else "left",
                  "max_frames": 4},
                 {"video": str(clips / f"{i}.mp4"), "question": "What color is the bar?",
                  "answer": "red" if right else "blue", "max_frames": 4},
                 {"video": str(clips / f"{i}.mp4"), "question": "Does it move? Answer in a sentence.",
                  "answer": "Yes, it crosses the frame.", "max_frames": 4}]
    data = tmp_path / "groups.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    examples = read_jsonl(data).examples
    groups = group_by_media(examples, group_questions=16)
    assert [len(g.examples) for g in groups if isinstance(g, QuestionGroup)] == [3, 3]
    model = fp32.loaded.model
    collator = SFTCollator(fp32.loaded.processor, fp32.engine.budget, rope_index=model.model.get_rope_index)
    grouped, alone = collator(groups), collator(examples)
    assert grouped["attention_mask"].dim() == 4
    assert grouped["video_grid_thw"].tolist() == alone["video_grid_thw"][::3].tolist()  # each clip encoded once
    with torch.no_grad():
        grouped_out, alone_out = model(**grouped), model(**alone)

    def answer_logits(batch, logits):  # the logits that predict each learned token, row by row
        return [logits[r, (batch["labels"][r] != IGNORE).nonzero().flatten() - 1] for r in range(len(logits))]

    per_group, per_question = answer_logits(grouped, grouped_out.logits), answer_logits(alone, alone_out.logits)
    for g in range(2):
        assert torch.allclose(per_group[g], torch.cat(per_question[3 * g : 3 * g + 3]), atol=1e-4)
    assert grouped_out.loss.item() == pytest.approx(alone_out.loss.item(), abs=1e-5)


def test_lora_on_clips_lowers_the_loss_and_the_adapter_answers(compact_model_dir, clip_data, tmp_path):
    base = VReason(str(compact_model_dir), dtype="float32", model_code="transformers")
    try:
        before = _loss(base, clip_data)
        base_answer = base.ask(None, QUESTION, video=str(clip_data.parent / "clips" / "0.mp4"), **ASK)
    finally:
        base.close()
    out = tmp_path / "adapter"
    result = finetune(_config(clip_data, out, compact_model_dir, method="lora", save_adapter=True))
    assert result.steps == 12
    assert (out / "adapter_model.safetensors").is_file()
    adapted = VReason(str(compact_model_dir), adapter=str(out), dtype="float32")
    try:
        after = _loss(adapted, clip_data)
        assert after < before - 0.5  # nats; the random model starts near ln(384) = 5.95
        clips = clip_data.parent / "clips"
        answers = [
            adapted.ask(None, QUESTION, video={"video": str(clips / f"{i}.mp4"), "max_frames": 4}, **ASK)
            for i in range(2)
        ]
    finally:
        adapted.close()
    assert answers[0].text.startswith("right")
    assert answers[0].usage.video_tokens > 0
    assert base_answer.token_ids != answers[0].token_ids


@pytest.mark.heavy
def test_cli_full_finetune_on_clips_then_vreason_ask_about_a_clip(compact_model_dir, clip_data, tmp_path):
    out = tmp_path / "full"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "vreason.cli.app",
            "finetune",
            "--data",
            str(clip_data),
            "--output",
            str(out),
            "--model",
            str(compact_model_dir),
            "--method",
            "full",
            "--max-steps",
            "10",
            "--batch-size",
            "4",
            "--lr",
            "1e-3",
            "--eval-data",
            str(clip_data),  # exact match by generation through the engine, clips included
            "--eval-steps",
            "100",
            "--dtype",
            "float32",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "wrote model to" in run.stdout
    scored = re.search(r"eval exact match (\d\.\d+)", run.stdout)
    assert scored is not None, run.stdout  # every clip question answered through the engine and scored
    clip = clip_data.parent / "clips" / "2.mp4"
    asked = subprocess.run(
        [
            sys.executable,
            "-m",
            "vreason.cli.app",
            "ask",
            str(clip),
            QUESTION,
            "--model",
            str(out),
            "--max-frames",
            "4",
            "--temperature",
            "0",
            "--max-new-tokens",
            "4",
            "--dtype",
            "float32",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert asked.returncode == 0, asked.stderr[-2000:]
    assert asked.stdout.strip().startswith("right")
