"""Fine-tuning on the tiny random Qwen3-VL: loss goes down, the right weights change (and only those),
resume continues, adapters load and change answers, bad data is reported by line.

Most tests train `compact_model_dir` (the tiny model with a 376-token tokenizer; the built-in model's is small
too): a run loads and saves its model and tokenizer, and the real Qwen tokenizer would add ~4 s to each. The two
heavy tests train `tiny_model_dir`, the real Qwen vocabulary (151,669 tokens)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import png_bytes
from vreason import VReason
from vreason.train.collate import IGNORE, SFTCollator
from vreason.train.dataset import DatasetError, read_jsonl
from vreason.train.finetune import FinetuneConfig, finetune

GREEDY = {"temperature": 0.0, "presence_penalty": 0.0, "max_new_tokens": 6}


@pytest.fixture(scope="module")
def color_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("colors")
    (root / "img").mkdir()
    rows = []
    for i, (name, rgb) in enumerate([("red", (230, 20, 20)), ("blue", (20, 20, 230))] * 4):
        (root / "img" / f"{i}.png").write_bytes(png_bytes(size=(64, 64), color=rgb))
        if i % 2:
            rows.append({"image": f"img/{i}.png", "question": "What color is it?", "answer": name})
        else:
            rows.append({"messages": [
                {"role": "user", "content": [{"type": "image", "image": f"img/{i}.png"},
                                             {"type": "text", "text": "What color is it?"}]},
                {"role": "assistant", "content": name},
                {"role": "user", "content": "Are you sure?"},
                {"role": "assistant", "content": "yes"},
            ]})
    (root / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root / "train.jsonl"


@pytest.fixture(scope="module")
def question_data(tmp_path_factory) -> Path:
    """Four images, several single questions about each: what question groups are for."""
    root = tmp_path_factory.mktemp("questions")
    rows = []
    for i, (name, rgb) in enumerate([("red", (230, 20, 20)), ("blue", (20, 20, 230))] * 2):
        (root / f"{i}.png").write_bytes(png_bytes(size=(64 + 32 * i, 64), color=rgb))
        rows += [{"image": f"{i}.png", "question": "What color is it?", "answer": name},
                 {"image": f"{i}.png", "question": "Is it red?", "answer": "yes" if name == "red" else "no"},
                 {"image": f"{i}.png", "question": "Is it blue? Answer in a sentence.",
                  "answer": f"{'Yes' if name == 'blue' else 'No'}, it is {name}."}]
    (root / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root / "train.jsonl"


def _config(data: Path, out: Path, model: Path, **overrides) -> FinetuneConfig:
    base = dict(train_data=str(data), output_dir=str(out), model=str(model), eval_fraction=0.0, batch_size=4,
                max_steps=12, learning_rate=5e-3, warmup_ratio=0.0, save_steps=100, logging_steps=1, progress=False,
                dtype="float32")
    base.update(overrides)
    return FinetuneConfig(**base)


def _batch_loss(model_dir: Path, data: Path) -> float:
    vr = VReason(str(model_dir), dtype="float32", model_code="transformers")
    collator = SFTCollator(vr.loaded.processor, vr.engine.budget)
    batch = collator(read_jsonl(data).examples)
    with torch.no_grad():
        return float(vr.loaded.model(**batch).loss)


def test_loss_only_on_assistant_tokens(compact_model_dir, color_data):
    vr = VReason(str(compact_model_dir), dtype="float32", model_code="transformers")
    collator = SFTCollator(vr.loaded.processor, vr.engine.budget)
    example = read_jsonl(color_data).examples[0]  # two assistant turns: "red", "yes"
    batch = collator([example])
    learned = [t for t in batch["labels"][0].tolist() if t != IGNORE]
    text = vr.loaded.processor.tokenizer.decode(learned)
    assert text == "red<|im_end|>yes<|im_end|>"


def test_question_group_computes_every_answer_as_if_asked_alone(compact_model_dir, question_data):
    from vreason.train.grouping import QuestionGroup, group_by_media

    vr = VReason(str(compact_model_dir), dtype="float32", model_code="transformers")
    model = vr.loaded.model
    collator = SFTCollator(vr.loaded.processor, vr.engine.budget, rope_index=model.model.get_rope_index)
    examples = read_jsonl(question_data).examples
    groups = group_by_media(examples, group_questions=16)
    assert [len(g.examples) for g in groups if isinstance(g, QuestionGroup)] == [3, 3, 3, 3]
    grouped, alone = collator(groups), collator(examples)
    assert grouped["attention_mask"].dim() == 4
    assert grouped["input_ids"].shape[1] < alone["input_ids"].shape[1] * 2  # one image, three questions
    with torch.no_grad():
        grouped_out = model(**grouped)
        alone_out = model(**alone)

    def answer_logits(batch, logits):  # the logits that predict each learned token, row by row
        return [logits[r, (batch["labels"][r] != IGNORE).nonzero().flatten() - 1] for r in range(len(logits))]

    per_group = answer_logits(grouped, grouped_out.logits)
    per_question = answer_logits(alone, alone_out.logits)
    for g in range(4):
        assert torch.allclose(per_group[g], torch.cat(per_question[3 * g : 3 * g + 3]), atol=1e-4)
    assert grouped_out.loss.item() == pytest.approx(alone_out.loss.item(), abs=1e-5)


@pytest.mark.heavy  # 8 training steps and two model loads (~25 CPU s); question groups stay covered by the test above
def test_finetune_on_question_groups_lowers_the_loss(tiny_model_dir, question_data, tmp_path):
    before = _batch_loss(tiny_model_dir, question_data)
    result = finetune(_config(question_data, tmp_path / "groups", tiny_model_dir, method="full", max_steps=8,
                              batch_size=2, eval_fraction=0.25, eval_steps=100))
    assert result.steps == 8
    assert result.eval_exact_match is not None
    state = json.loads((tmp_path / "groups" / "finetune_result.json").read_text())
    assert state["config"]["group_questions"] == 16
    assert _batch_loss(tmp_path / "groups", question_data) < before - 0.5


@pytest.mark.heavy  # 12 LoRA steps and two model loads (~30 CPU s); LoRA stays covered by the adapter and CLI tests
def test_lora_lowers_loss_and_changes_only_language_layers(tiny_model_dir, color_data, tmp_path):
    before = _batch_loss(tiny_model_dir, color_data)
    result = finetune(_config(color_data, tmp_path / "lora", tiny_model_dir, method="lora"))
    after = _batch_loss(tmp_path / "lora", color_data)
    assert after < before - 0.5  # nats; a random 152k-way model starts near ln(151936) = 11.9
    assert 0 < result.trainable_params < result.total_params / 5
    base = load_file(tiny_model_dir / "model.safetensors")
    tuned = load_file(tmp_path / "lora" / "model.safetensors")
    assert base.keys() == tuned.keys()  # merged back into a standard checkpoint
    changed = {k for k in base if not torch.equal(base[k], tuned[k])}
    assert changed
    assert all("language_model" in k and k.endswith("proj.weight") for k in changed)
    assert not any("visual" in k for k in changed)


def test_full_finetune_keeps_vision_frozen_by_default(compact_model_dir, color_data, tmp_path):
    finetune(_config(color_data, tmp_path / "full", compact_model_dir, method="full", max_steps=4))
    base = load_file(compact_model_dir / "model.safetensors")
    tuned = load_file(tmp_path / "full" / "model.safetensors")
    changed = {k for k in base if not torch.equal(base[k], tuned[k])}
    assert any("language_model" in k for k in changed)
    assert not any("visual" in k for k in changed)
    with_vision = tmp_path / "full-vision"
    finetune(_config(color_data, with_vision, compact_model_dir, method="full", max_steps=2, train_vision=True))
    tuned_vision = load_file(with_vision / "model.safetensors")
    assert any("visual" in k and not torch.equal(base[k], tuned_vision[k]) for k in base)


def test_batches_built_by_worker_processes_train_the_same_weights(compact_model_dir, color_data, tmp_path):
    inline = finetune(_config(color_data, tmp_path / "inline", compact_model_dir, method="full", max_steps=3))
    parallel = finetune(_config(color_data, tmp_path / "workers", compact_model_dir, method="full", max_steps=3,
                                workers=2))
    assert inline.steps == parallel.steps == 3
    a = load_file(tmp_path / "inline" / "model.safetensors")
    b = load_file(tmp_path / "workers" / "model.safetensors")
    base = load_file(compact_model_dir / "model.safetensors")
    assert any(not torch.equal(base[k], a[k]) for k in a)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_time_limit_or_stop_step_ends_training_early_and_saves(compact_model_dir, color_data, tmp_path):
    out = tmp_path / "limited"
    result = finetune(_config(color_data, out, compact_model_dir, method="full", max_steps=40, time_limit_s=1e-6))
    assert result.steps == 1  # past the limit at the end of the first step
    assert (out / "model.safetensors").is_file()
    assert (out / "checkpoints" / f"checkpoint-{result.steps}").is_dir()
    stopped = finetune(_config(color_data, tmp_path / "stopped", compact_model_dir, method="full", max_steps=40,
                               stop_after_steps=3))
    assert stopped.steps == 3
    state = json.loads((tmp_path / "stopped" / "checkpoints" / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["max_steps"] == 40  # the schedule kept its planned length
    with pytest.raises(Exception, match="workers"):
        _config(color_data, out, compact_model_dir, workers=-1)


def test_a_run_told_to_train_on_square_pictures_leaves_a_model_served_square_pictures(compact_model_dir,
                                                                                      question_data, tmp_path):
    out = tmp_path / "square"
    finetune(_config(question_data, out, compact_model_dir, method="full", max_steps=2, square_pictures=True))
    assert json.loads((out / "processor_config.json").read_text())["image_processor"]["square_pictures"] is True
    vr = VReason(str(out), dtype="float32", model_code="transformers")
    assert vr.engine.budget.square
    assert not VReason(str(compact_model_dir), dtype="float32").engine.budget.square
    wide = read_jsonl(question_data).examples[-1]  # a 160x64 picture: trained and asked about as a square
    row = SFTCollator(vr.loaded.processor, vr.engine.budget).render(wide)
    assert row.images[0].size[0] == row.images[0].size[1]
    answer = vr.ask(png_bytes(size=(160, 64), color=(230, 20, 20)), "What color is it?", **GREEDY)
    side, other = vr.engine.budget.target_size(160, 64)
    assert side == other
    assert answer.usage.image_tokens == (side // 32) ** 2
    # a later run that does not say keeps the checkpoint's setting; one that says False drops it
    finetune(_config(question_data, tmp_path / "after", out, method="full", max_steps=1))
    assert VReason(str(tmp_path / "after"), dtype="float32").engine.budget.square
    finetune(_config(question_data, tmp_path / "kept-shape", out, method="full", max_steps=1, square_pictures=False))
    assert not VReason(str(tmp_path / "kept-shape"), dtype="float32").engine.budget.square
    with pytest.raises(Exception, match="square_pictures needs a merged model"):  # an adapter gets its base's
        _config(question_data, tmp_path / "adapter", out, method="lora", save_adapter=True, square_pictures=True)


def test_a_run_told_its_picture_area_leaves_a_model_served_at_that_area(compact_model_dir, question_data, tmp_path):
    out = tmp_path / "small-pictures"
    base = VReason(str(compact_model_dir), dtype="float32").engine.budget
    area = 96 * 96
    assert base.max_pixels > area  # the run changes what the checkpoint said
    finetune(_config(question_data, out, compact_model_dir, method="full", max_steps=1, min_pixels=area,
                     max_pixels=area))
    size = json.loads((out / "processor_config.json").read_text())["image_processor"]["size"]
    assert size == {"shortest_edge": area, "longest_edge": area}
    vr = VReason(str(out), dtype="float32")
    assert (vr.engine.budget.min_pixels, vr.engine.budget.max_pixels) == (area, area)
    answer = vr.ask(png_bytes(size=(320, 320), color=(230, 20, 20)), "What color is it?", **GREEDY)
    assert answer.usage.image_tokens == (96 // 32) ** 2
    # a later run that does not say keeps it
    finetune(_config(question_data, tmp_path / "after", out, method="full", max_steps=1))
    assert VReason(str(tmp_path / "after"), dtype="float32").engine.budget.max_pixels == area
    # a bound not given stays the checkpoint's own
    before = json.loads((compact_model_dir / "processor_config.json").read_text())["image_processor"]["size"]
    finetune(_config(question_data, tmp_path / "max-only", compact_model_dir, method="full", max_steps=1,
                     max_pixels=area))
    size = json.loads((tmp_path / "max-only" / "processor_config.json").read_text())["image_processor"]["size"]
    assert size == {**before, "longest_edge": area}


def test_resume_continues_from_checkpoint(compact_model_dir, color_data, tmp_path):
    out = tmp_path / "resume"
    finetune(_config(color_data, out, compact_model_dir, max_steps=4, save_steps=2))
    assert (out / "checkpoints" / "checkpoint-4" / "processor_config.json").is_file()  # loadable as --model
    result = finetune(_config(color_data, out, compact_model_dir, max_steps=6, save_steps=2, resume=True))
    assert result.steps == 6
    state = json.loads((out / "checkpoints" / "checkpoint-6" / "trainer_state.json").read_text())
    logged_steps = [entry["step"] for entry in state["log_history"] if "loss" in entry]
    assert logged_steps[:6] == [1, 2, 3, 4, 5, 6]  # the first run's history carried over, not restarted


def test_adapter_loads_and_changes_answers(compact_model_dir, color_data, tmp_path):
    out = tmp_path / "adapter"
    finetune(_config(color_data, out, compact_model_dir, method="lora", save_adapter=True, max_steps=30))
    assert (out / "adapter_model.safetensors").is_file()
    assert not (out / "model.safetensors").exists()
    base, adapted = VReason(str(compact_model_dir)), VReason(str(compact_model_dir), adapter=str(out))
    for image, color in (("0.png", "red"), ("1.png", "blue")):
        path = str(color_data.parent / "img" / image)
        before = base.ask(path, "What color is it?", **GREEDY)
        after = adapted.ask(path, "What color is it?", **GREEDY)
        assert after.token_ids != before.token_ids
        assert after.text.startswith(color)


def test_bad_rows_are_named_or_skipped(color_data):
    bad = color_data.parent / "bad.jsonl"
    good = color_data.read_text().splitlines()[0]
    bad.write_text("\n".join([good, "{not json", json.dumps({"image": "missing.png", "question": "q", "answer": "a"}),
                              json.dumps({"question": "no answer"})]) + "\n")
    with pytest.raises(DatasetError, match=r"bad.jsonl:2: not valid JSON"):
        read_jsonl(bad)
    loaded = read_jsonl(bad, skip_bad=True)
    assert len(loaded.examples) == 1
    assert [s.split(": ", 1)[0].rsplit(":", 1)[1] for s in loaded.skipped] == ["2", "3", "4"]
    assert "missing.png not found" in loaded.skipped[1]


def test_cli_finetune_end_to_end(compact_model_dir, color_data, tmp_path):
    from tests.cli_in_process import run_vreason  # the console script's main(), in this process

    out = tmp_path / "cli"
    result = run_vreason("finetune", "--data", str(color_data), "--output", str(out), "--model", str(compact_model_dir),
                         "--max-steps", "2", "--batch-size", "2", "--eval-fraction", "0.25", "--eval-steps", "1",
                         "--save-adapter", "--dtype", "float32")
    assert result.returncode == 0, result.stderr
    assert "wrote adapter to" in result.stdout
    assert "eval exact match" in result.stdout
    assert (out / "adapter_model.safetensors").is_file()
    bad = run_vreason("finetune", "--data", str(tmp_path / "none.jsonl"), "--output", str(out))
    assert bad.returncode == 2
    assert "does not exist" in bad.stderr


def test_qlora_without_gpu_says_what_to_use(compact_model_dir, color_data, tmp_path):
    from vreason.errors import InvalidRequestError

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: QLoRA would run")
    with pytest.raises(InvalidRequestError, match="needs a CUDA GPU; on this machine use --method lora"):
        finetune(_config(color_data, tmp_path / "q", compact_model_dir, method="qlora"))
