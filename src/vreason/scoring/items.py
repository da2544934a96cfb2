"""What an evaluation item is: an image (or several), a video clip or a point cloud, a question or a task's
fields, and the ground truth to score against. Dataset readers (`vreason.eval.datasets`) make them; task packs
turn them into prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GroundTruthBox:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the item's first image
    label: str = ""


@dataclass
class EvalItem:
    id: str  # stable across runs: what a resumed run uses to skip finished items
    images: list[str]  # local paths; may be empty for text-only items (typed essays)
    question: str  # may be empty when a task pack writes the prompt
    answers: list[str] = field(default_factory=list)  # reference answers; several for VQAv2-style data
    boxes: list[GroundTruthBox] | None = None  # None: the item has no localisation ground truth
    kind: str = "all"  # question type / category, for the per-type breakdown
    choices: dict[str, str] | None = None  # multiple choice: letter -> option text; answers[0] is the letter
    target: dict[str, Any] | None = None  # a task pack's expected structured output
    fields: dict[str, Any] = field(default_factory=dict)  # anything else a prompt template may use
    videos: list[str] = field(default_factory=list)  # clips (paths, URLs, data URIs), asked about before the question
    video_sampling: dict[str, Any] = field(default_factory=dict)  # VideoSampling keys (fps, max_frames, ...)
    # "time": answers are seconds, right within ±1 s; "exact": exact match only; None: decided per answer
    # (a time-shaped reference of a video item is a time; see scoring/times.py)
    answer_type: str | None = None
    # A point cloud (path): its rendered `views` are the item's images. With `box3d` the item grounds its
    # `question` (the target, "red box") and is right when a found box overlaps the true one (3D IoU >= 0.25).
    cloud: str | None = None
    views: tuple[str, ...] = ("bev",)
    box3d: dict[str, Any] | None = None  # {"center": [x, y, z], "size": [l, w, h], "yaw": radians, "label"}
