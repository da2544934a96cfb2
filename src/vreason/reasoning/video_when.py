"""When something is on screen in a video: a scan of its frames, each with its own presentation time.

Asked "when does the red circle appear?", a model must place the change among the frames it was shown and read
the time marker beside that frame; small models do that poorly (the built-in model is right within a second on
77% of held-out clips, to the second on 31%). A scan asks instead what models answer well, whether the thing is
in one picture, of single frames at known times: one frame every `every_s` seconds across the clip (at most
`max_checks`; a long clip is checked less often, never refused), then, between two checked frames that disagree,
the frames in the gap by halving it (`refine`), so each change is placed at the first frame that shows it, with
that frame's own timestamp: the answer is a frame's time, not a number the model wrote.

One change between two neighbouring checked frames is assumed: something on screen for less than `every_s` can
be missed, and the result says how often frames were checked. Narrowing checks at most `max_checks` frames more
(past that, a change keeps the first pass's spacing), so one scan asks at most twice `max_checks` questions
(`MAX_CHECKS` bounds it for every surface). The frames are decoded at the size the engine's pixel budget gives
them and asked about 16 at a time (one engine batch), the next 16 decoding meanwhile. A check whose answer is
neither yes nor no counts as "not there" and is listed in `unclear`.

    found = await awhen_in_video(vr, "clip.mp4", "red circle")     # AsyncVReason
    found.spans        -> [Span(start_s=2.0, end_s=None)]           # on screen from 2.0 s to the end
    found.appears_s    -> [2.0];  found.disappears_s -> []
    when_in_video(VReason(...), "clip.mp4", "red circle")           # its blocking form
"""

from __future__ import annotations

import asyncio
import bisect
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreason.articles import indefinite_article
from vreason.errors import InvalidRequestError

if TYPE_CHECKING:  # the media and engine modules load with the first scan: `vreason when --help` stays quick
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason
    from vreason.media.image_input import PreparedImage
    from vreason.media.video_decode import ClipIndex
    from vreason.media.video_input import VideoData

DEFAULT_QUESTION = "is there {a} {target} in the image?"
DEFAULT_EVERY_S = 0.5
DEFAULT_MAX_CHECKS = 240
MAX_CHECKS = 1000  # the most `max_checks` any caller may ask for
# Frames decoded and asked about at a time in the first pass: a pass over a long clip is never held whole.
_CHUNK = 16


@dataclass(frozen=True)
class FrameCheck:
    index: int  # the frame's position among the clip's frames
    time_s: float  # its presentation time, seconds from the clip's first frame
    present: bool | None  # the model's yes (True) or no (False); None: neither
    answer: str  # the model's words


@dataclass(frozen=True)
class Span:
    start_s: float  # time of the first frame that shows it
    end_s: float | None  # time of the first frame after that does not; None: on screen to the clip's end

    def to_dict(self) -> dict:
        return {"start_s": round(self.start_s, 3), "end_s": None if self.end_s is None else round(self.end_s, 3)}


@dataclass
class VideoWhen:
    target: str
    question: str  # as sent for every frame
    video: str  # the clip as error messages name it
    duration_s: float
    every_s: float  # how often the first pass checked a frame (wider than asked on a long clip)
    frames: int  # in the clip
    checks: list[FrameCheck] = field(default_factory=list)  # every frame asked about, in time order

    @property
    def spans(self) -> list[Span]:
        """Stretches of time the target is on screen, from the checked frames."""
        spans, start = [], None
        for check in self.checks:
            if check.present and start is None:
                start = check.time_s
            elif not check.present and start is not None:
                spans.append(Span(start, check.time_s))
                start = None
        if start is not None:
            spans.append(Span(start, None))
        return spans

    @property
    def appears_s(self) -> list[float]:
        """Times it comes on screen (not counting being there from the first frame)."""
        first = self.checks[0].time_s if self.checks else 0.0
        return [s.start_s for s in self.spans if s.start_s > first]

    @property
    def disappears_s(self) -> list[float]:
        return [s.end_s for s in self.spans if s.end_s is not None]

    @property
    def unclear(self) -> list[FrameCheck]:
        return [c for c in self.checks if c.present is None]

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "question": self.question,
            "video": self.video,
            "video_duration_s": round(self.duration_s, 3),
            "every_s": round(self.every_s, 3),
            "frames": self.frames,
            "spans": [s.to_dict() for s in self.spans],
            "appears_s": [round(t, 3) for t in self.appears_s],
            "disappears_s": [round(t, 3) for t in self.disappears_s],
            "checks": [
                {"time_s": round(c.time_s, 3), "frame_index": c.index, "present": c.present, "answer": c.answer}
                for c in self.checks
            ],
        }


def changes(checks: list[FrameCheck]) -> list[tuple[FrameCheck, FrameCheck]]:
    """Each pair of neighbouring checks (in time order) that disagree: the last frame before a change and the first
    after it. An unclear answer counts as "not there", as it does in `VideoWhen.spans`."""
    return [(a, b) for a, b in zip(checks, checks[1:], strict=False) if bool(a.present) != bool(b.present)]


def presence_question(target: str, template: str = DEFAULT_QUESTION) -> str:
    """The yes/no question asked of every frame: `template` with {target} (and {a}, "a" or "an") filled in."""
    target = target.strip()
    if not target:
        raise InvalidRequestError("say what to look for, e.g. \"red circle\"", param="target")
    if "{target}" not in template:
        raise InvalidRequestError("the question must contain {target}, e.g. \"is there {a} {target}?\"",
                                  param="question")
    rest = template.replace("{target}", "").replace("{a}", "")
    if "{" in rest or "}" in rest:  # str.format would also take field specs ("{a:>9999999}") from a client
        raise InvalidRequestError("the question may use only {target} and {a}", param="question")
    question = template.replace("{a}", indefinite_article(target)).replace("{target}", target)
    return " ".join(question.split())  # no double space where {a} was left empty


# "when does the red circle appear?", "Watch this. At what time did a dog first show up?", "when will the cup
# leave the frame?": a lead, the thing, an optional word of manner, a verb of coming into or going out of view.
_WHEN_QUESTION = re.compile(
    r"(?:^|[.!?:]\s+)\s*(?:when|at what (?:time|second|point|moment)|at which (?:time|second|point|moment)|"
    r"what time)\s+(?:exactly\s+)?(?:does|did|do|will|would)\s+(?P<target>[^.!?]+?)\s+"
    r"(?:(?:first|finally|suddenly|fully|completely|again|(?:start|begin)s?\s+to)\s+)?"
    r"(?P<event>re-?appear|appear|show up|pop up|come into view|become visible|enter|"
    r"disappear|vanish|leave|exit|go away|go out of view|go off screen)s?\b(?P<rest>[^.!?]*)", re.I)
_GONE = ("disappear", "vanish", "leave", "exit", "go away", "go out of view", "go off screen")
# enter / leave / exit with an object are a move seen on screen ("the train leave the station"), except these
_VIEW_OBJECT = re.compile(r"^\s*(?:the\s+)?(?:frame|scene|screen|view|shot|picture|image|video|clip)\b", re.I)
# a target that is no thing to look for, or a question that is not about it coming or going
_NOT_A_THING = re.compile(
    r"^(?:it|they|them|this|that|these|those|he|she|i|you|we|one|something|anything|someone|anyone|everyone|"
    r"everything|nothing|its|their|his|her|my|your|our|first|second|third|last|next|each|every|all|other)\b"
    r"|\b(?:not|never|no longer|see|show|shows|seen)\b", re.I)
_MAX_TARGET_WORDS = 6


def parse_when_question(question: str) -> tuple[str, str] | None:
    """(target, "appears" or "disappears") when `question` asks when a named thing comes into or goes out of
    view — what `vreason when` answers by its frame scan ("when does the red circle appear?" -> ("red circle",
    "appears")) — else None. Pronouns, negations ("not appear"), "appear to" (seem) and enter / leave with an
    object other than the frame ("leave the station") are not such questions."""
    found = _WHEN_QUESTION.search(question)
    if not found:
        return None
    rest = found["rest"]
    event = found["event"].lower()
    if re.match(r"\s+to\b", rest) or (event in ("enter", "leave", "exit") and rest.strip()
                                        and not _VIEW_OBJECT.match(rest)):
        return None
    quotes = "\"'“”‘’ "  # when does the "red circle" appear?
    target = re.sub(r"^(?:the|a|an)\s+", "", " ".join(found["target"].split()).strip(quotes), flags=re.I)
    target = target.strip(quotes)
    if not target or len(target.split()) > _MAX_TARGET_WORDS or _NOT_A_THING.search(target):
        return None
    return target, "disappears" if event in _GONE else "appears"


def parse_presence(answer: str) -> bool | None:
    words = re.findall(r"[a-z]+", answer.lower())
    if not words:
        return None
    return True if words[0] in ("yes", "yeah", "true") else False if words[0] in ("no", "not", "false") else None


def check_scan(every_s: float, max_checks: int) -> None:
    if not (isinstance(every_s, int | float) and math.isfinite(every_s) and every_s > 0):
        raise InvalidRequestError(f"every_s must be a number of seconds > 0, got {every_s!r}", param="every_s")
    if not isinstance(max_checks, int) or not 2 <= max_checks <= MAX_CHECKS:
        raise InvalidRequestError(f"max_checks must be from 2 to {MAX_CHECKS}, got {max_checks!r}",
                                  param="max_checks")


def first_pass_frames(index: ClipIndex, every_s: float, max_checks: int) -> tuple[list[int], float]:
    """Positions of the frames the first pass checks (one shown at each multiple of `every_s`, and the last
    frame) and the spacing used: `every_s`, widened so that at most `max_checks` frames are checked."""
    check_scan(every_s, max_checks)
    times, last = index.times, index.times[-1]
    every = max(float(every_s), last / (max_checks - 1)) if last > 0 else float(every_s)
    picks = {max(0, bisect.bisect_right(times, k * every + 1e-6) - 1) for k in range(int(last / every + 1e-9) + 1)}
    picks.add(len(times) - 1)
    return sorted(picks), every


async def awhen_in_video(
    vr: AsyncVReason,
    video: str | Path | bytes,
    target: str,
    *,
    every_s: float = DEFAULT_EVERY_S,
    max_checks: int = DEFAULT_MAX_CHECKS,
    refine: bool = True,
    question: str = DEFAULT_QUESTION,
    **sampling: Any,
) -> VideoWhen:
    """When `target` is on screen in `video`, from yes/no checks of its frames (module docstring)."""
    from vreason.media.video_decode import index_clip
    from vreason.media.video_input import read_video
    from vreason.reasoning.locate import EXACT_SAMPLING

    prompt = presence_question(target, question)
    check_scan(every_s, max_checks)
    policy = vr.engine.policy
    clip = await asyncio.to_thread(read_video, video, policy)
    index = await asyncio.to_thread(index_clip, clip.data, clip.label, policy)
    picks, every = first_pass_frames(index, every_s, max_checks)
    # decoded at the size the engine would resize them to (a 64-megapixel frame is never held 16 at a time)
    size = vr.engine.budget.updated(sampling.get("min_pixels"), sampling.get("max_pixels")).target_size(
        index.width, index.height)
    sampling = {**EXACT_SAMPLING, "max_new_tokens": 8, **sampling}
    checks: dict[int, FrameCheck] = {}

    async def ask(positions: list[int], frames: list[PreparedImage]) -> None:
        answers = await vr.ask_many([([frame], prompt) for frame in frames], **sampling)
        for p, a in zip(positions, answers, strict=True):
            checks[p] = FrameCheck(p, index.times[p], parse_presence(a.text), a.text.strip())

    chunks = [picks[i:i + _CHUNK] for i in range(0, len(picks), _CHUNK)]
    decoding = asyncio.ensure_future(asyncio.to_thread(_frames, clip, index, chunks[0], size))
    for i, chunk in enumerate(chunks):
        frames = await decoding
        if i + 1 < len(chunks):  # the next chunk decodes while this one is asked about
            decoding = asyncio.ensure_future(asyncio.to_thread(_frames, clip, index, chunks[i + 1], size))
        try:
            await ask(chunk, frames)
        except BaseException:
            decoding.cancel()
            raise

    budget = [max_checks]  # checks narrowing may still make, shared by every change

    async def narrow(low: FrameCheck, high: FrameCheck) -> None:
        # the first frame after `low` that answers as `high` does, by halving the gap (one change assumed)
        while high.index - low.index > 1 and budget[0] > 0:
            budget[0] -= 1
            middle = (low.index + high.index) // 2
            await ask([middle], await asyncio.to_thread(_frames, clip, index, [middle], size))
            low, high = (checks[middle], high) if bool(checks[middle].present) == bool(low.present) else (
                low, checks[middle])

    if refine:
        await _all_or_none([narrow(a, b) for a, b in changes([checks[p] for p in picks])])
    return VideoWhen(target.strip(), prompt, clip.label, index.duration_s, every, len(index.times),
                     [checks[p] for p in sorted(checks)])


async def _all_or_none(coroutines: list) -> None:
    """Await them together; when one fails, the others are cancelled (not left asking the engine) and it raises."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def when_in_video(vr: VReason, video: str | Path | bytes, target: str, **options: Any) -> VideoWhen:
    """The blocking form of `awhen_in_video`."""
    return vr.run(awhen_in_video(vr.aio, video, target, **options))


def _frames(clip: VideoData, index: ClipIndex, positions: list[int], size: tuple[int, int]) -> list[PreparedImage]:
    from PIL import Image

    from vreason.media.image_input import PreparedImage
    from vreason.media.video_decode import decode_frames

    pixels = decode_frames(clip.data, index, positions, size, clip.label)
    return [PreparedImage(Image.fromarray(frame), f"{clip.label} at {index.times[p]:.2f}s")
            for p, frame in zip(positions, pixels, strict=True)]
