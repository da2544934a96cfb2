"""Grounding in a video: "where is X at second t" answered with boxes (or points) on the frame shown then.

The frame is decoded at the clip's own size (`media.video_frame.frame_at`) and grounded like any image
(`alocate`), so the boxes are in the clip's pixels; the result says which frame was looked at (its own time,
which may be a little before the time asked: a frame is shown until the next one starts).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreason.media.video_frame import VideoFrame, frame_at
from vreason.reasoning.locate import Grounding, alocate

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason


@dataclass
class VideoGrounding:
    grounding: Grounding  # on the frame; its image_size is the clip's displayed size
    frame: VideoFrame
    asked_at_s: float

    @property
    def detections(self):
        return self.grounding.detections

    def to_dict(self) -> dict:
        return {
            **self.grounding.to_dict(),
            "asked_at_s": self.asked_at_s,
            "frame_time_s": round(self.frame.time_s, 3),
            "frame_index": self.frame.index,
            "video_duration_s": round(self.frame.duration_s, 3),
        }


async def alocate_in_video(
    vr: AsyncVReason, video: str | Path | bytes, target: str, at_s: float, kind: str = "box", **sampling: Any
) -> VideoGrounding:
    """Boxes (or points) of `target` on the frame of `video` shown at `at_s` seconds, read under the media
    policy of `vr`'s engine."""
    frame = await asyncio.to_thread(frame_at, video, at_s, vr.engine.policy)
    found = await alocate(vr, frame.image, target, kind=kind, **sampling)
    return VideoGrounding(found, frame, float(at_s))


def locate_in_video(
    vr: VReason, video: str | Path | bytes, target: str, at_s: float, kind: str = "box", **sampling: Any
) -> VideoGrounding:
    return vr.run(alocate_in_video(vr.aio, video, target, at_s, kind=kind, **sampling))
