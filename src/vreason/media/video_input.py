"""Load one video from whatever a caller has into a `PreparedVideo`: sampled frames at the size the model sees,
with their real presentation times.

Sources: a path or file:// URL (opened in place, never read whole), an http(s) URL (fetched under the media
policy's SSRF guard, domain list, timeout and `max_video_bytes`, as images are), a data URI or base64 text,
bytes, or a list of frames (anything `load_image` takes) with their timestamps (default: 2 a second, as
qwen-vl-utils assumes). A clip is recognised by its content, whatever its name (`looks_like_video`).

Reading (`read_video`) is separate from decoding (`decode_video`) so the media step can key its cache by the
content's hash before paying for a decode. Every failure is a `VideoError` (a `MediaError`) or `InvalidRequestError`
naming the input.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
from PIL import Image

from vreason.errors import InvalidRequestError, MediaError
from vreason.media.image_input import _BASE64_TEXT, _MIN_BASE64_LEN, _decode_base64, describe_source, load_image
from vreason.media.local_files import checked_local_path
from vreason.media.policy import MediaPolicy
from vreason.media.url_fetch import fetch_url
from vreason.media.video_budget import VideoBudget, plan_frames
from vreason.media.video_decode import decode_frames, index_clip
from vreason.media.video_types import PreparedVideo, VideoError, VideoSampling

_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w-]+=[^;,]*)*)(?P<b64>;base64)?,", re.I)
# What a URL may serve as a video (servers that do not label it send octet-stream; an animated GIF is image/gif).
VIDEO_CONTENT_TYPES = ("video/", "image/gif", "image/webp", "application/octet-stream", "binary/octet-stream")
# qwen-vl-utils' `sample_fps` for a list of frames given without times.
FRAME_LIST_FPS = 2.0


@dataclass(frozen=True)
class VideoData:
    """An encoded clip, read under the policy: a local file (opened in place) or bytes, and its content hash."""

    data: Path | bytes
    digest: str
    label: str


def read_video(source: str | Path | bytes | bytearray, policy: MediaPolicy) -> VideoData:
    """Check and read a clip's source (not decoded yet)."""
    label = describe_source(source)
    try:
        data = _read(source, policy, label)
    except VideoError:
        raise
    except MediaError as err:  # the shared readers name inputs as images
        raise VideoError(err.source, err.problem) from None
    return VideoData(data, _digest(data), label)


def _read(source: str | Path | bytes | bytearray, policy: MediaPolicy, label: str) -> Path | bytes:
    if isinstance(source, (bytes, bytearray)):
        data: Path | bytes = _capped(bytes(source), policy, label)
    elif isinstance(source, Path):
        data = _local(source, policy, label)
    elif isinstance(source, str):
        text = source.strip()
        lowered = text[:16].lower()
        if lowered.startswith("data:"):
            data = _capped(_data_uri(text, label), policy, label)
        elif lowered.startswith("file://"):
            data = _local(Path(unquote(urlsplit(text).path)), policy, label)
        elif lowered.startswith(("http://", "https://")):  # the SSRF guard, domains, timeout of image URLs
            capped = replace(policy, max_bytes=policy.max_video_bytes)
            data = fetch_url(text, capped, label, accepted=VIDEO_CONTENT_TYPES, what="a video")
        elif "://" in text[:12]:
            raise VideoError(
                label, f"URL scheme {text.split('://', 1)[0]!r} is not supported (use a path, http(s) URL or data URI)"
            )
        elif text and len(text) < 4096 and _is_file(text):
            data = _local(Path(text).expanduser(), policy, label)
        elif len(text) >= _MIN_BASE64_LEN and _BASE64_TEXT.match(text[:4096]):
            data = _capped(_decode_base64(text, label), policy, label)
        else:
            raise VideoError(label or "''", "no such file (and not a URL, data URI or base64 video)")
    else:
        raise VideoError(label, f"unsupported video input type {type(source).__name__}")
    return data


def decode_video(video: VideoData, sampling: VideoSampling, budget: VideoBudget, policy: MediaPolicy) -> PreparedVideo:
    """Sample and decode a clip read by `read_video`."""
    try:
        index = index_clip(video.data, video.label, policy)
    except VideoError:
        animated = _animated_image(video.data, 4 * policy.max_video_frames)  # animated WebP: FFmpeg cannot
        if animated is None:
            raise
        frames, times = animated
        return replace(load_frames(frames, times, sampling, budget, policy, whole=False), label=video.label)
    picks = plan_frames(index.times, sampling, budget, policy.max_video_frames, video.label)
    size = budget.frame_size(len(picks), index.width, index.height, sampling.max_pixels)
    frames = decode_frames(video.data, index, picks, size, video.label)
    return PreparedVideo(
        frames=frames,
        timestamps=tuple(index.times[i] for i in picks),
        label=video.label,
        content_hash=video.digest,
        sampling=sampling,
        duration_s=index.duration_s,
        source_fps=index.average_fps,
        original_size=(index.width, index.height),
    )


def load_frames(
    sources: list,
    timestamps: tuple[float, ...] | None,
    sampling: VideoSampling,
    budget: VideoBudget,
    policy: MediaPolicy,
    whole: bool = True,
) -> PreparedVideo:
    """A caller's own frames (images) as a video: all of them unless fps/num_frames/max_frames thin them out
    (`whole=False`: sampled as a clip is), at one size (the budget's for the first frame), each at its time."""
    label = f"<list of {len(sources)} video frames>"
    if not sources:
        raise InvalidRequestError("a list of video frames is empty", param="video")
    if len(sources) > policy.max_video_frames * 4:  # refused before decoding any (thinning keeps at most a 1/4)
        raise InvalidRequestError(f"{label} is over the limit of {policy.max_video_frames} frames", param="video")
    times = timestamps if timestamps is not None else tuple(i / FRAME_LIST_FPS for i in range(len(sources)))
    if any(b <= a for a, b in zip(times, times[1:], strict=False)) or times[0] < 0:
        raise InvalidRequestError(f"{label}: timestamps must be >= 0 and increasing", param="timestamps")
    picks = plan_frames(times, sampling, budget, policy.max_video_frames, label, all_by_default=whole)
    images = {i: load_image(sources[i], policy).image for i in sorted(set(picks))}
    first = images[picks[0]]
    size = budget.frame_size(len(picks), first.width, first.height, sampling.max_pixels)
    arrays = {i: np.asarray(_resized(img, size)) for i, img in images.items()}
    frames = np.stack([arrays[i] for i in picks])
    digest = hashlib.blake2b(frames.tobytes(), digest_size=16)
    digest.update(repr([times[i] for i in picks]).encode())
    return PreparedVideo(
        frames=frames,
        timestamps=tuple(times[i] for i in picks),
        label=label,
        content_hash=digest.hexdigest(),
        sampling=sampling,
        duration_s=times[-1],
        original_size=first.size,
    )


def looks_like_video(path: str | Path) -> bool:
    """Whether a local file holds a video by its content: FFmpeg finds a video track and Pillow does not read
    it as a still picture (an animated GIF or WebP is a video; a PNG, JPEG or one-frame GIF is an image)."""
    try:
        with Image.open(path) as image:
            if not getattr(image, "is_animated", False):
                return False
    except (OSError, ValueError, Image.DecompressionBombError):
        pass
    import av  # after Pillow's answer: a still picture never pays PyAV's ~90 ms import

    try:
        with av.open(str(path), mode="r") as container:
            return bool(container.streams.video)
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def _animated_image(data: Path | bytes, limit: int) -> tuple[list[Image.Image], tuple[float, ...]] | None:
    """The frames of an animated image Pillow reads (WebP, GIF, PNG) and their start times from the frames'
    durations (at most `limit` frames); None when it is not one."""
    import io

    from PIL import ImageSequence

    try:
        with Image.open(data if isinstance(data, Path) else io.BytesIO(data)) as image:
            if not getattr(image, "is_animated", False):
                return None
            frames, times, clock = [], [], 0.0
            for frame in ImageSequence.Iterator(image):
                if len(frames) == limit:
                    break
                frames.append(frame.convert("RGB"))
                times.append(round(clock, 6))
                clock += max(float(frame.info.get("duration") or 100), 1.0) / 1000
            return frames, tuple(times)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image if image.size == size else image.resize(size, Image.Resampling.BICUBIC)


def _capped(data: bytes, policy: MediaPolicy, label: str) -> bytes:
    if len(data) > policy.max_video_bytes:
        raise VideoError(label, f"{len(data)} bytes is over the {policy.max_video_bytes}-byte video limit")
    if not data:
        raise VideoError(label, "is empty (0 bytes)")
    return data


def _data_uri(text: str, label: str) -> bytes:
    match = _DATA_URI.match(text)
    if not match:
        raise VideoError(label, "malformed data URI (expected data:video/...;base64,...)")
    mime = (match.group("mime") or "").lower()
    if mime and not mime.startswith(("video/", "image/")) and mime != "application/octet-stream":
        raise VideoError(label, f"data URI has media type {mime!r}, not a video")
    payload = text[match.end() :]
    if match.group("b64"):
        return _decode_base64(payload, label)
    return unquote(payload).encode("latin-1", errors="replace")


def _is_file(text: str) -> bool:
    try:
        return Path(text).expanduser().exists()
    except (OSError, RuntimeError):
        return False


def _local(path: Path, policy: MediaPolicy, label: str) -> Path:
    """The local-file rule images follow, with the video byte limit; the file is opened in place, not read."""
    try:
        return checked_local_path(path, policy, label, "video", policy.max_video_bytes)
    except MediaError as err:
        raise VideoError(label, err.problem) from None


def _digest(data: Path | bytes) -> str:
    digest = hashlib.blake2b(digest_size=16)
    if isinstance(data, bytes):
        digest.update(data)
        return digest.hexdigest()
    try:
        with data.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except PermissionError:
        raise VideoError(str(data), "permission denied") from None
    return digest.hexdigest()
