"""The built-in model's second-stage data (train/demo_v2.py): every part written, one training file whose
paths resolve from its own folder, one row per clip question (the trainer groups a clip's questions: no question
sees another's answer), repeated clip rows one group per copy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vreason.engine.types import VideoPart
from vreason.train.dataset import read_jsonl
from vreason.train.demo_v2 import PART_FORMATS, V2Config, run_data, write_data
from vreason.train.grouping import QuestionGroup, group_by_media


def test_second_stage_data_reads_as_finetune_rows(tmp_path: Path):
    config = V2Config(varied_scenes=3, plain_scenes=3, clips=2, easy_vqa=False)
    rows = write_data(tmp_path, config)
    lines = (tmp_path / "all_train.jsonl").read_text().splitlines()
    assert rows == len(lines) > 0
    dataset = read_jsonl(tmp_path / "all_train.jsonl")  # the fine-tuning reader: every path must resolve
    assert len(dataset.examples) == rows
    clip_rows = [json.loads(line) for line in lines if '"video"' in line]
    assert {row["video"] for row in clip_rows} == {"clips/clips/t23_000000.mp4", "clips/clips/t23_000001.mp4"}
    assert all(set(row) == {"video", "question", "answer"} for row in clip_rows)  # single questions, not chats
    videos = [part for example in dataset.examples for message in example.messages for part in message.content
              if isinstance(part, VideoPart)]
    assert len(videos) == len(clip_rows) > 2
    assert all(Path(v.source).is_file() for v in videos)
    groups = [i for i in group_by_media(dataset.examples, 16) if isinstance(i, QuestionGroup)]
    assert len([g for g in groups if isinstance(g.media, VideoPart)]) == 2  # each clip's questions: one sequence
    parts = {line.split('"image": "')[1].split("/")[0] for line in lines if '"image": "' in line}
    assert parts == {"varied", "plain"}


def test_a_part_already_written_is_kept(tmp_path: Path):
    config = V2Config(varied_scenes=2, plain_scenes=2, clips=1, easy_vqa=False)
    write_data(tmp_path, config, only=("plain",))
    assert not (tmp_path / "all_train.jsonl").exists()
    marker = tmp_path / "plain" / "images" / "kept.txt"
    marker.write_text("x")
    write_data(tmp_path, config)
    assert marker.exists()
    assert (tmp_path / "all_train.jsonl").is_file()


def test_the_recipe_refuses_a_second_stage_base_it_would_delete_or_could_not_describe(tmp_path: Path):
    import pytest

    from vreason.train.demo_recipe import RecipeConfig, build

    work = tmp_path / "work"
    inside = work / "settled-2"
    inside.mkdir(parents=True)
    with pytest.raises(ValueError, match="empties first"):
        build(RecipeConfig(out=tmp_path / "out", work=work, v2=V2Config(), from_model=inside))
    assert inside.is_dir()  # nothing was deleted
    twice = tmp_path / "had-v2"
    twice.mkdir()
    (twice / "training_summary.json").write_text(json.dumps({"stages": {}, "v2": {"runs": []}}))
    with pytest.raises(ValueError, match="already had a second stage"):
        build(RecipeConfig(out=tmp_path / "out", work=work, v2=V2Config(), from_model=twice))
    assert not (work / "v2-data" / "all_train.jsonl").exists()  # refused before any data was written


def test_a_run_can_repeat_the_clip_rows_and_each_copy_trains_as_its_own_group(tmp_path: Path):
    config = V2Config(varied_scenes=3, plain_scenes=3, clips=2, easy_vqa=False)
    write_data(tmp_path, config)
    source = (tmp_path / "all_train.jsonl").read_text().splitlines()
    assert run_data(tmp_path, 1) == tmp_path / "all_train.jsonl"
    repeated = run_data(tmp_path, 3)
    lines = repeated.read_text().splitlines()
    clips = [line for line in source if '"video"' in line]
    assert len(clips) > 2
    assert len(lines) == len(source) + 2 * len(clips)
    assert sorted(line for line in lines if '"video"' in line) == sorted(clips * 3)
    assert [line for line in lines if '"video"' not in line] == [line for line in source if '"video"' not in line]
    examples = read_jsonl(repeated).examples
    assert len(examples) == len(lines)  # every path still resolves from the same folder
    clip_groups = [i for i in group_by_media(examples, 16) if isinstance(i, QuestionGroup)
                   and isinstance(i.media, VideoPart)]
    assert len(clip_groups) == 2 * 3  # two clips, three copies: no group asks a question twice
    assert all(len({q for q, _ in g.questions()}) == len(g.examples) for g in clip_groups)
    written = repeated.stat().st_mtime_ns
    assert run_data(tmp_path, 3) == repeated
    assert repeated.stat().st_mtime_ns == written  # written once
    write_data(tmp_path, config)  # all_train.jsonl rewritten: its copies go with it
    assert not repeated.exists()


def test_an_old_clips_part_of_conversations_is_written_again_and_a_file_says_how_it_holds_clips(tmp_path: Path):
    from vreason.train.demo_v2 import clip_questions

    config = V2Config(varied_scenes=2, plain_scenes=2, clips=2, easy_vqa=False)
    write_data(tmp_path, config)
    assert clip_questions(tmp_path / "all_train.jsonl") == "grouped"
    clips = tmp_path / "clips"
    chat = {"messages": [{"role": "user", "content": [{"type": "video", "video": "clips/t23_000000.mp4"},
                                                      {"type": "text", "text": "when does it appear?"}]},
                         {"role": "assistant", "content": "2"}]}
    for old in clips.glob("*.jsonl"):
        old.unlink()
    (clips / "clips_chats.jsonl").write_text(json.dumps(chat) + "\n")
    (clips / "part.json").write_text(json.dumps({"rows": 1, "seconds": 1.0}))  # format 1: no "format"
    (tmp_path / "all_train.jsonl").write_text(json.dumps(chat) + "\n")
    assert clip_questions(tmp_path / "all_train.jsonl") == "conversation"
    write_data(tmp_path, config)
    assert not (clips / "clips_chats.jsonl").exists()
    assert json.loads((clips / "part.json").read_text())["format"] == PART_FORMATS["clips"]
    assert clip_questions(tmp_path / "all_train.jsonl") == "grouped"


def test_second_stage_runs_are_checked_when_configured():
    with pytest.raises(ValueError, match="one entry per run"):
        V2Config(steps=(1, 2, 3))  # two learning rates and two tower settings by default
    with pytest.raises(ValueError, match="clip_repeats needs one entry per run"):
        V2Config(clip_repeats=(4,))
    with pytest.raises(ValueError, match=">= 1"):
        V2Config(clip_repeats=(1, 0))
    assert [V2Config(clip_repeats=(1, 8)).repeats(i) for i in (0, 1)] == [1, 8]
    assert V2Config().repeats(1) == 1
