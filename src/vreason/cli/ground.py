"""`vreason ground IMAGE "what to find" [--points] [--tiles 4x4|auto] [--out annotated.png] [--json]`, and
`vreason ground CLIP "what to find" --at SECONDS` for the frame of a video shown at that time, and
`vreason ground SCENE.ply "what to find"` for oriented 3D boxes in a point cloud (as `vreason ground3d`).

Prints one line per box (or point) in the original image's (or clip's) pixels; `--out` writes the image (the
frame) with the boxes and labels drawn, `--tiles` looks tile by tile (for small things in large images).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vreason.cli import options as o
from vreason.cli.ask import is_cloud_source, is_video_source
from vreason.cli.option_groups import with_option_groups
from vreason.cli.render import notice
from vreason.errors import InvalidRequestError


@with_option_groups
def ground(
    image: Annotated[str, typer.Argument(help="Image (or video, with --at) path or URL.")],
    target: Annotated[str, typer.Argument(help='What to find, e.g. "red circle" or "every person".')],
    loading: o.LoadingOptions,
    sampling: o.ShortSampling,
    backend: o.BackendOptions,
    media: o.MediaUrlOptions,
    points: Annotated[bool, typer.Option("--points", help="Ask for points instead of boxes.")] = False,
    tiles: Annotated[
        str | None,
        typer.Option("--tiles", help="Look tile by tile: ROWSxCOLS (e.g. 4x4) or auto (from the pixel budget)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the annotated image here (PNG, JPEG...).")] = None,
    at: Annotated[
        float | None,
        typer.Option("--at", help="For a video: the second whose frame to look at (boxes are on that frame)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Find things in an image (or in a video's frame at a given second): boxes or points in its own pixels,
    optionally drawn on it."""
    from vreason.media import load_image
    from vreason.reasoning.draw import draw_detections
    from vreason.reasoning.grounding import grounding_prompt
    from vreason.reasoning.locate import locate
    from vreason.reasoning.tile_runner import locate_tiled
    from vreason.reasoning.tiling import parse_grid

    if is_cloud_source(image):  # a point cloud: grounded in 3D (vreason ground3d has the 3D options)
        if points or tiles or at is not None:
            raise InvalidRequestError(
                f"{image} is a point cloud: --points, --tiles and --at are for images and videos; "
                "vreason ground3d has the 3D options (--views, --method ...)"
            )
        from vreason.cli.spatial import ground3d

        return ground3d.__wrapped__(  # the command itself, with this command's option groups
            cloud=image, target=target, loading=loading, sampling=sampling, backend=backend, out=out, as_json=as_json
        )
    kind = "point" if points else "box"
    try:
        grounding_prompt(target, kind)
    except ValueError as err:
        raise InvalidRequestError(str(err), param="target") from None
    grid = parse_grid(tiles) if tiles else None
    if out is not None and not out.parent.is_dir():
        raise InvalidRequestError(f"--out {out}: the folder {out.parent} does not exist", param="out")
    overrides = sampling.overrides()
    policy = media.policy()
    spec = o.engine_spec(loading, backend, media_policy=policy)
    video = is_video_source(image)
    if video and at is None:
        raise InvalidRequestError(f"{image} is a video: say which moment to look at with --at SECONDS", param="at")
    if at is not None and not video:
        raise InvalidRequestError(f"--at is for videos; {image} is not one", param="at")
    if video:
        from vreason.media.video_frame import frame_at

        frame = frame_at(image, at, policy)  # before the model loads: a bad clip or time fails at once
        prepared, where = frame.image, f" at {frame.time_s:.2f} s (frame {frame.index})"
    else:
        prepared, where = load_image(image, policy), ""
    vr = o.open_model(spec)
    if tiles:
        result = locate_tiled(vr, prepared, target, kind=kind, grid=grid, **overrides)
        detections, data = result.detections, result.to_dict()
    else:
        found = locate(vr, prepared, target, kind=kind, **overrides)
        detections, data = found.detections, found.to_dict()
    if video:
        data.update(
            asked_at_s=at,
            frame_time_s=round(frame.time_s, 3),
            frame_index=frame.index,
            video_duration_s=round(frame.duration_s, 3),
        )
    if out is not None:
        draw_detections(prepared.image, detections).save(out)
        data["annotated"] = str(out)
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
        return
    if not detections:
        notice(f"nothing found for {target!r}{where}")
    elif where:
        notice(f"on the frame{where}")
    for d in detections:
        where = d.box if d.box is not None else d.point
        print(f"{d.label or target}: {', '.join(str(round(v)) for v in where)}")
    if out is not None:
        notice(f"annotated image: {out}")
