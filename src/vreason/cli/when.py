"""`vreason when CLIP "what to look for" [--every 0.5] [--no-refine] [--question TEMPLATE] [--json]`: when the
thing is on screen, from a yes/no check of frames (`reasoning/video_when.py`), with each frame's own time.

Prints one line per stretch on screen ("red circle: 2.000 s to 5.125 s") and when it appears and disappears;
`--json` prints the whole result, every checked frame and the model's answer to it included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vreason.cli import options as o
from vreason.cli.ask import checked_video, is_video_source
from vreason.cli.option_groups import with_option_groups
from vreason.cli.render import notice
from vreason.errors import InvalidRequestError
from vreason.reasoning.video_when import DEFAULT_EVERY_S, DEFAULT_MAX_CHECKS, DEFAULT_QUESTION


@with_option_groups
def when(
    video: Annotated[str, typer.Argument(help="Video path or URL.")],
    target: Annotated[str, typer.Argument(help='What to look for, e.g. "red circle" or "a person at the door".')],
    loading: o.LoadingOptions,
    sampling: o.ShortSampling,
    backend: o.BackendOptions,
    media: o.MediaUrlOptions,
    every: Annotated[
        float, typer.Option("--every", help="Seconds between the frames checked first (wider on a long clip).")
    ] = DEFAULT_EVERY_S,
    max_checks: Annotated[
        int, typer.Option("--max-checks", help="Most frames the first pass checks.")
    ] = DEFAULT_MAX_CHECKS,
    refine: Annotated[
        bool,
        typer.Option("--refine/--no-refine", help="Narrow each change down to the frame (a few checks more)."),
    ] = True,
    question: Annotated[
        str, typer.Option("--question", help="The yes/no question asked of every frame; {target}, {a} filled in.")
    ] = DEFAULT_QUESTION,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """When something is on screen in a video: each frame checked is asked whether it is there, and the changes
    are placed at the frames' own times (to the frame, with --refine)."""
    from vreason.reasoning.video_when import check_scan, presence_question, when_in_video

    presence_question(target, question)  # a bad target, question or spacing fails before the model loads
    check_scan(every, max_checks)
    if _named_not_video(video):
        raise InvalidRequestError(f"{video} is not a video: `vreason when` checks the frames of a clip", param="video")
    policy = media.policy()
    clip = checked_video(video, policy)  # missing, unreadable or too long: said before the model loads
    vr = o.open_model(o.engine_spec(loading, backend, media_policy=policy))
    found = when_in_video(vr, clip, target, every_s=every, max_checks=max_checks, refine=refine,
                          question=question, **sampling.overrides())
    if as_json:
        print(json.dumps(found.to_dict(), ensure_ascii=False))
        return
    notice(f"{len(found.checks)} of {found.frames} frames checked (every {found.every_s:g} s first), "
           f"asking {found.question!r}")
    if found.unclear:
        notice(f"{len(found.unclear)} answers were neither yes nor no (counted as not there), "
               f"e.g. {found.unclear[0].answer!r} at {found.unclear[0].time_s:.3f} s")
    if not found.spans:
        print(f"{found.target}: not seen")
        return
    for span in found.spans:
        end = "the end" if span.end_s is None else f"{span.end_s:.3f} s"
        print(f"{found.target}: {span.start_s:.3f} s to {end}")
    appears = ", ".join(f"{t:.3f} s" for t in found.appears_s) or "- (there from the first frame)"
    disappears = ", ".join(f"{t:.3f} s" for t in found.disappears_s) or "- (there to the end)"
    print(f"appears: {appears}; disappears: {disappears}")


def _named_not_video(source: str) -> bool:
    """An image given where a clip is wanted (a data URI of another media type, or a local file that is not one).
    A URL without a video extension may still serve one, and a missing file is checked_video's to report."""
    lowered = source[:40].lower()
    if lowered.startswith(("http://", "https://", "file://")):
        return False
    if not lowered.startswith("data:") and not Path(source).expanduser().is_file():
        return False
    return not is_video_source(source)
