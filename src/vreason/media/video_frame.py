"""One frame of a clip at a given second, at the clip's own size: what grounding in a video looks at.

"Where is the red circle at second 3?" is answered on the frame shown at that time (the last frame whose
presentation time is at or before it, as a player shows it), decoded at full resolution so the boxes are in
the clip's own pixels. Reading and limits are the video path's (`read_video` under the media policy); the
frame comes back as a `PreparedImage` with the time it was actually shown, so a caller can say which frame
it looked at.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from vreason.errors import InvalidRequestError
from vreason.media.image_input import PreparedImage
from vreason.media.policy import MediaPolicy
from vreason.media.video_decode import decode_frames, index_clip
from vreason.media.video_input import read_video
from vreason.media.video_types import VideoError


@dataclass(frozen=True)
class VideoFrame:
    image: PreparedImage  # the frame at the clip's displayed size, labelled "CLIP at Ts"
    time_s: float  # the frame's own presentation time (seconds from the clip's first frame)
    index: int  # its position among the clip's frames
    duration_s: float  # of the clip: its last frame's time plus one frame period


def frame_at(source: str | Path | bytes | bytearray, at_s: float, policy: MediaPolicy) -> VideoFrame:
    """The frame shown at `at_s` seconds; a time past the end is an error naming the clip's length."""
    if not isinstance(at_s, int | float) or not math.isfinite(at_s) or at_s < 0:
        raise InvalidRequestError(f"the time in the video must be a number of seconds >= 0, got {at_s!r}", param="at")
    video = read_video(source, policy)
    index = index_clip(video.data, video.label, policy)
    last = index.times[-1]
    # A frame is shown until the next one starts: the last frame of a 10 s clip at 2 fps starts at 9.5 s.
    duration = last + (last / (len(index.times) - 1) if len(index.times) > 1 else 0.0)
    if at_s > duration + 1e-6:
        raise VideoError(video.label, f"is {duration:.2f} s long; there is no frame at {at_s:g} s")
    position = max(0, bisect.bisect_right(index.times, at_s + 1e-6) - 1)
    pixels = decode_frames(video.data, index, [position], (index.width, index.height), video.label)[0]
    time_s = index.times[position]
    label = f"{video.label} at {time_s:.2f}s"
    return VideoFrame(PreparedImage(Image.fromarray(pixels), label), time_s, position, duration)
