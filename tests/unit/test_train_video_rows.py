"""Fine-tuning rows with clips: the short form's `video` and sampling options, video parts in `messages`, paths
relative to the JSONL file, and bad rows named by line (a near-miss option with the right name). No model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vreason.engine.types import TextPart, VideoPart
from vreason.media.video_types import VideoSampling
from vreason.train.dataset import DatasetError, read_jsonl
from vreason.train.grouping import approximate_tokens, group_by_media


def _write(root: Path, rows: list) -> Path:
    path = root / "train.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_short_form_and_messages_rows_with_clips(tmp_path):
    (tmp_path / "clips").mkdir()
    for name in ("a.mp4", "b.mp4", "f0.png", "f1.png"):
        (tmp_path / "clips" / name).write_bytes(b"x")
    data = _write(
        tmp_path,
        [
            {"video": "clips/a.mp4", "question": "Which way?", "answer": "left", "fps": 4, "max_frames": 8},
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "video_url", "video_url": {"url": "clips/b.mp4", "start": 1.5}},
                            {"type": "text", "text": "What then?"},
                        ],
                    },
                    {"role": "assistant", "content": "it stops"},
                ]
            },
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "video", "video": ["clips/f0.png", "clips/f1.png"], "timestamps": [0, 3]},
                            {"type": "text", "text": "When?"},
                        ],
                    },
                    {"role": "assistant", "content": "at 3 s"},
                ]
            },
        ],
    )
    short, url_part, frames = read_jsonl(data).examples
    video, question = short.messages[0].content
    assert isinstance(video, VideoPart)
    assert isinstance(question, TextPart)
    assert video.source == str(tmp_path / "clips" / "a.mp4")  # relative to the JSONL file
    assert video.sampling == VideoSampling(fps=4, max_frames=8)
    assert url_part.messages[0].videos[0].source == str(tmp_path / "clips" / "b.mp4")
    assert url_part.messages[0].videos[0].sampling == VideoSampling(start=1.5)
    part = frames.messages[0].videos[0]
    assert part.source == [str(tmp_path / "clips" / "f0.png"), str(tmp_path / "clips" / "f1.png")]
    assert part.timestamps == (0.0, 3.0)
    items = group_by_media([short, url_part, frames], group_questions=16)
    assert items == [short, url_part, frames]  # one question per clip: nothing to group
    assert (
        approximate_tokens(short)
        > approximate_tokens(read_jsonl(_write(tmp_path, [{"question": "Which way?", "answer": "left"}])).examples[0])
        + 100
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"video": "missing.mp4", "question": "q", "answer": "a"}, "video missing.mp4 not found"),
        ({"video": "here.mp4", "question": "q", "answer": "a", "max_frame": 8}, "did you mean 'max_frames'"),
        ({"image": "here.mp4", "question": "q", "answer": "a", "fps": 2}, "fps sample a video, but the row has no"),
        ({"video": "here.mp4", "question": "q", "answer": "a", "fps": -1}, r"video fps \(-1\) must be > 0"),
        ({"video": 3, "question": "q", "answer": "a"}, '"video" must be a path'),
    ],
)
def test_bad_video_rows_are_named_by_line(tmp_path, row, message):
    (tmp_path / "here.mp4").write_bytes(b"x")
    data = _write(tmp_path, [{"video": "here.mp4", "question": "q", "answer": "a"}, row])
    with pytest.raises(DatasetError, match=rf"train.jsonl:2: .*{message}"):
        read_jsonl(data)
    assert len(read_jsonl(data, skip_bad=True).skipped) == 1
