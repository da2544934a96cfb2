"""`is_demo_family`: a checkpoint with the built-in model's tokenizer is the demo's kind (it reads only shapes-world
question forms), whatever its folder or name; any other tokenizer, or none, is not."""

from __future__ import annotations

import json
import shutil

import pytest

from vreason.models.demo import SHIPPED_DIR, is_demo_family


def test_the_built_in_model_and_a_copy_of_its_tokenizer(tmp_path):
    assert is_demo_family(SHIPPED_DIR)
    shutil.copy(SHIPPED_DIR / "tokenizer.json", tmp_path / "tokenizer.json")
    assert is_demo_family(tmp_path)
    assert is_demo_family(str(tmp_path))  # the loader passes its source as a string


def test_the_same_vocabulary_written_again_is_still_the_demos(tmp_path):
    """`save_pretrained` after fine-tuning rewrites the file; the vocabulary and merges decide, not the bytes."""
    data = json.loads((SHIPPED_DIR / "tokenizer.json").read_text())
    (tmp_path / "tokenizer.json").write_text(json.dumps(data, indent=4, sort_keys=True))
    assert is_demo_family(tmp_path)


def test_another_vocabulary_is_not(tmp_path):
    data = json.loads((SHIPPED_DIR / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    vocab["zebra"] = len(vocab)
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    assert not is_demo_family(tmp_path)


def test_a_real_tokenizer_is_not(tiny_model_dir):
    assert not is_demo_family(tiny_model_dir)  # the tiny random model carries Qwen's own tokenizer


@pytest.mark.parametrize("content", ["", "{not json", json.dumps({"model": "BPE"}), json.dumps([1, 2])])
def test_unreadable_tokenizer_files_are_not(tmp_path, content):
    (tmp_path / "tokenizer.json").write_text(content)
    assert not is_demo_family(tmp_path)


def test_hub_ids_and_folders_without_a_tokenizer_are_not(tmp_path):
    assert not is_demo_family("Qwen/Qwen3-VL-8B-Instruct")
    assert not is_demo_family(tmp_path)


def test_merges_written_as_pairs_are_the_same_merges(tmp_path):
    """Newer `tokenizers` write each merge as ["a", "b"], older ones as "a b": a fine-tune saved by either is the
    demo's."""
    data = json.loads((SHIPPED_DIR / "tokenizer.json").read_text())
    merges = data["model"]["merges"]
    data["model"]["merges"] = [m.split(" ") if isinstance(m, str) else " ".join(m) for m in merges]
    (tmp_path / "tokenizer.json").write_text(json.dumps(data))
    assert is_demo_family(tmp_path)
