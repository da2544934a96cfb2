"""`vreason ask MEDIA... QUESTION`: one question about one or more images and/or videos.

A local file is a video by its content (FFmpeg finds a video track and it is not a still picture), whatever
its name; a URL by its extension (.mp4, .webm, .mkv, .mov, .avi, .m4v, .gif is an image); a data URI by its
media type. The Video options (`--fps`, `--max-frames`, `--start`, `--end`...) apply to every video given.
A local point cloud (by its suffix: .ply .pcd .las .laz .npy .npz .xyz .xyzrgb .xyzn .pts; not the ambiguous
.txt/.csv, which `vreason ask3d` reads) is rendered into the views named by `--views` (default bev, as in
`vreason ask3d`), which take its place among the request's images in that order.
Inputs are checked before the model loads (a missing file, a file with no video track, a bad cloud fail at once).
"""

from __future__ import annotations

from typing import Annotated

import typer

from vreason.cli import memory as m
from vreason.cli import options as o
from vreason.cli.option_groups import with_option_groups
from vreason.cli.render import answer_json, notice, print_answer, print_stats, print_stream
from vreason.errors import InvalidRequestError


@with_option_groups
def ask(
    args: Annotated[
        list[str],
        typer.Argument(help="MEDIA... QUESTION: image and video paths/URLs or point-cloud files, then the question."),
    ],
    loading: o.LoadingOptions,
    sampling: o.SamplingOptions,
    backend: o.BackendOptions,
    media: o.MediaUrlOptions,
    video: o.VideoOptions,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it is generated.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (answer, usage, timings).")] = False,
    stats: Annotated[bool, typer.Option("--stats", help="Print token counts and timings to stderr.")] = False,
    system: o.SystemOpt = None,
    views: o.CloudViewsOpt = None,
    user: m.UserOpt = None,
    memory: m.MemoryFlagOpt = None,
    memory_dir: m.MemoryDirOpt = None,
    memory_url: m.MemoryUrlOpt = None,
) -> None:
    """Ask a question about one or more images, videos or point clouds (with --user: and that user's memory)."""
    from vreason.engine.types import ImagePart, Message, TextPart, VideoPart

    with_memory = m.memory_wanted(user, memory)
    if len(args) < (1 if with_memory else 2):
        raise InvalidRequestError("give at least one image or video and a question: vreason ask MEDIA... QUESTION")
    *sources, question = args
    if not question.strip():
        raise InvalidRequestError("the question is empty")
    # Bad inputs and values fail fast, before a (possibly large) model is loaded.
    from vreason.media import load_image

    overrides = sampling.overrides()
    video_sampling = video.sampling()
    policy = media.policy()
    spec = o.engine_spec(loading, backend, media_policy=policy)
    parts: list = []
    clouds = [s for s in sources if is_cloud_source(s)]
    if views is not None and not clouds:
        raise InvalidRequestError("--views is for point-cloud inputs, and none of the inputs is one", param="views")
    names = cloud_views(views)
    videos: list[str] = []
    for source in sources:
        if source in clouds:
            parts.extend(ImagePart(view.image) for view in rendered_views(source, names))
        elif is_video_source(source):
            parts.append(VideoPart(checked_video(source, policy), video_sampling))
            videos.append(source)
        else:
            parts.append(ImagePart(load_image(source, policy)))
    if video.given() and not any(isinstance(p, VideoPart) for p in parts):
        raise InvalidRequestError("video options were given but none of the inputs is a video")
    vr = o.open_model(spec)
    messages = ([Message.system(system)] if system else []) + [Message("user", [*parts, TextPart(question)])]
    if with_memory:  # recall into the prompt, "Remember: ..." / "Forget ..." carried out, sources cited
        remembered = m.open_memory(user, memory_dir, memory_url, vr).answer_messages(messages, **overrides)
        m.print_memory_answer(remembered, as_json)
        answer = remembered.answer
    elif as_json:
        answer = vr.chat(messages, **overrides)
        print(answer_json(answer))
    elif stream:
        answer = print_stream(vr.stream_chat(messages, **overrides))
    else:
        answer = vr.chat(messages, **overrides)
        print_answer(answer)
    if len(videos) == 1 and not (with_memory or as_json):
        when_hint(videos[0], question, loading, backend)
    if stats and answer is not None:
        print_stats(answer)
        u = answer.usage
        if u.video_tokens:
            notice(
                f"{u.image_tokens} visual tokens ({u.video_tokens} from video), {u.cached_tokens} prompt tokens "
                f"reused from the cache"
            )


def when_hint(video: str, question: str, loading: o.LoadingOptions, backend: o.BackendOptions) -> None:
    """After an answer to when a named thing appears or disappears in a clip: on stderr, the `vreason when`
    command (same model and backend) that finds it frame by frame. Asked directly, a model writes the second it
    guesses (the built-in model is right to the second on about a third of held-out clips, the scan on 98%:
    benchmarks/when_scan_eval.py). Not with --json (stdout and stderr stay the answer's) or --user."""
    from shlex import quote

    from vreason.reasoning.video_when import parse_when_question

    asked = parse_when_question(question)
    if not asked:
        return
    clip = "CLIP" if video[:5].lower() == "data:" else quote(video)  # a data URI is too long to repeat
    if clip.startswith("-"):
        clip = f"./{clip}"  # not read as an option
    flags = [f"--model {quote(loading.model)}"] if loading.model else []
    if backend.backend != "local":
        flags += [f"--backend {quote(backend.backend)}"] + [f"--upstream {quote(u)}" for u in backend.upstream or []]
    notice(" ".join([f"frame-accurate times: vreason when {clip} {quote(asked[0])}", *flags]))


def is_cloud_source(source: str) -> bool:
    """A local path (not a URL or data URI) whose suffix is a point-cloud format's; .txt and .csv are left to
    images/videos here (too common to mean a cloud; `vreason ask3d` reads them as clouds)."""
    from pathlib import Path

    from vreason.spatial.readers import SUFFIXES

    if source[:40].lower().startswith(("data:", "http://", "https://", "file://")):
        return False
    return Path(source).suffix.lower() in set(SUFFIXES) - AMBIGUOUS_SUFFIXES


AMBIGUOUS_SUFFIXES = {".txt", ".csv"}


def cloud_views(views: str | None) -> tuple[str, ...]:
    from vreason.spatial.views import parse_views

    return parse_views(views or "bev")


def rendered_views(source: str, names: tuple[str, ...]) -> list:
    """The cloud's views as `vreason ask3d` renders them (read and limits by cli/spatial.py's `open_input`)."""
    from vreason.cli.spatial import open_input
    from vreason.spatial.views import prepared_for_views, render_views

    cloud, _ = prepared_for_views(open_input(source))
    return render_views(cloud, names)


VIDEO_URL_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".3gp")


def is_video_source(source: str) -> bool:
    """A local file by its content, a URL by its extension, a data URI by its media type."""
    from pathlib import Path
    from urllib.parse import urlsplit

    lowered = source[:40].lower()
    if lowered.startswith("data:"):
        return lowered.startswith("data:video/")
    if lowered.startswith(("http://", "https://")):
        return urlsplit(source).path.lower().endswith(VIDEO_URL_SUFFIXES)
    if lowered.startswith("file://"):
        source = urlsplit(source).path
    from vreason.media.video_input import looks_like_video

    path = Path(source).expanduser()
    return path.is_file() and looks_like_video(path)


def checked_video(source: str, policy):
    """The source as given, after the checks that need no model: readable under the policy, a video track
    with frames (decoding and sampling wait for the checkpoint's video budget)."""
    from vreason.media.video_decode import index_clip
    from vreason.media.video_input import read_video

    data = read_video(source, policy)  # a URL is fetched here, once: its bytes go on to the media step
    index_clip(data.data, data.label, policy)
    return data.data
