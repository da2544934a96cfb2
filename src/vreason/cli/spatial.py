"""`vreason ground3d CLOUD "red box" [--views bev,front] [--out boxes.ply] [--json]` and
`vreason ask3d CLOUD "how many objects?" [--views bev]`: point clouds (PLY, PCD, LAS/LAZ, XYZ text, .npy/.npz)
or an RGB-D frame (the colour image as CLOUD, with `--depth` and `--intrinsics`).

ground3d prints one line per 3D box in the cloud's coordinates; `--out boxes.ply` writes the boxes as PLY line
sets and one annotated PNG per view beside it (boxes.bev.png, ...). ask3d sends the views as the images of one
request. The cloud is read and checked before the model loads, so a bad file fails at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vreason.cli import options as o
from vreason.cli.option_groups import with_option_groups
from vreason.cli.render import notice, print_answer
from vreason.errors import InvalidRequestError

ViewsOpt = Annotated[
    str,
    typer.Option(
        "--views", help="Views to render, comma separated: bev (top-down), front, side, persp (automatic camera)."
    ),
]
SizeOpt = Annotated[int, typer.Option("--size", help="Longer side of each view in pixels.")]
DepthOpt = Annotated[
    Path | None,
    typer.Option(
        "--depth", help="RGB-D: depth map of the image given as CLOUD (16-bit PNG in mm, or float .npy in metres)."
    ),
]
IntrinsicsOpt = Annotated[
    str | None, typer.Option("--intrinsics", help="RGB-D: fx,fy,cx,cy in pixels, or a JSON file with those keys.")
]
DropOpt = Annotated[bool, typer.Option("--drop-invalid", help="Drop points with NaN/inf coordinates.")]
MaxPointsOpt = Annotated[int | None, typer.Option("--max-points", help="Refuse clouds with more points.")]
FocusOpt = Annotated[
    bool,
    typer.Option("--focus", help="Frame the views on what stands on the ground, not the whole floor (large scans)."),
]


def open_input(
    cloud: str,
    depth: Path | None = None,
    intrinsics: str | None = None,
    *,
    drop_invalid: bool = False,
    max_points: int | None = None,
):
    """The `PointCloud` a command works on: a cloud file, or an RGB-D frame turned z-up."""
    from vreason.spatial.readers import MAX_POINTS, SUFFIXES, read_cloud
    from vreason.spatial.rgbd import Intrinsics, camera_to_z_up, cloud_from_rgbd

    limit = max_points or MAX_POINTS
    if depth is None:
        if intrinsics:
            raise InvalidRequestError("--intrinsics is for RGB-D input: give --depth too", param="intrinsics")
        return read_cloud(cloud, max_points=limit, drop_invalid=drop_invalid)
    if Path(cloud).suffix.lower() in SUFFIXES:
        raise InvalidRequestError(f"{cloud}: with --depth, give the colour image (PNG/JPEG), not a cloud")
    if not Path(cloud).is_file():
        raise InvalidRequestError(f"{cloud}: no such image file", param="image")
    return camera_to_z_up(cloud_from_rgbd(cloud, depth, Intrinsics.parse(intrinsics), max_points=limit))


@with_option_groups
def ground3d(
    cloud: Annotated[str, typer.Argument(help="Point-cloud file, or the colour image of an RGB-D frame.")],
    target: Annotated[str, typer.Argument(help='What to find, e.g. "red box".')],
    loading: o.LoadingOptions,
    sampling: o.ShortSampling,
    backend: o.BackendOptions,
    views: ViewsOpt = "bev",
    size: SizeOpt = 448,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the boxes as PLY line sets here, and each annotated view beside it."),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="lift: 2D boxes on the views lifted to 3D; bbox_3d: the model's own 3D boxes "
            "(a real Qwen3-VL) on a perspective view, or on the colour image of an RGB-D frame.",
        ),
    ] = "lift",
    angle_unit: Annotated[
        str,
        typer.Option(
            "--angle-unit",
            help="bbox_3d angles: pi (the Qwen3-VL cookbook's drawing code: angle x 180 degrees), rad or deg.",
        ),
    ] = "pi",
    view_words: Annotated[
        bool,
        typer.Option(
            "--view-words/--no-view-words",
            help='Ask in the words of the view ("red box" seen from above: "red rectangle").',
        ),
    ] = True,
    depth: DepthOpt = None,
    intrinsics: IntrinsicsOpt = None,
    drop_invalid: DropOpt = False,
    max_points: MaxPointsOpt = None,
    focus: FocusOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Find things in a point cloud: oriented 3D boxes in its own coordinates."""
    from vreason.reasoning.grounding import grounding_prompt
    from vreason.spatial.views import parse_views

    names = parse_views(views)
    if method not in ("lift", "bbox_3d"):
        raise InvalidRequestError(f"--method {method!r}: choose lift or bbox_3d", param="method")
    if angle_unit not in ("rad", "pi", "deg"):
        raise InvalidRequestError(f"--angle-unit {angle_unit!r}: choose rad, pi or deg", param="angle_unit")
    grounding_prompt(target)  # an empty target fails here, before anything loads
    if out is not None and not out.parent.is_dir():
        raise InvalidRequestError(f"--out {out}: the folder {out.parent} does not exist", param="out")
    points = open_input(cloud, depth, intrinsics, drop_invalid=drop_invalid, max_points=max_points)
    spec = o.engine_spec(loading, backend)
    vr = o.open_model(spec)
    from vreason.spatial.annotate import save_annotated
    from vreason.spatial.boxes3d import write_boxes_ply
    from vreason.spatial.questions import detections_on, locate_3d

    if depth is not None and method == "bbox_3d":
        # An RGB-D frame: the model looks at the real colour image with the real intrinsics (the cookbook's
        # use), and its boxes land in the frame's cloud.
        from PIL import Image

        from vreason.spatial.questions import alocate_3d_in_frame
        from vreason.spatial.rgbd import Intrinsics, frame_camera

        image = Image.open(cloud).convert("RGB")
        camera = frame_camera(Intrinsics.parse(intrinsics), image.width, image.height)
        result = vr.run(
            alocate_3d_in_frame(vr.aio, image, camera, target, angle_unit=angle_unit, **sampling.overrides())
        )
    else:
        result = locate_3d(
            vr,
            points,
            target,
            views=names,
            size=size,
            method=method,
            angle_unit=angle_unit,
            view_words=view_words,
            focus=focus,
            **sampling.overrides(),
        )
    data = result.to_dict()
    if out is not None:
        write_boxes_ply(out, result.boxes)
        images = save_annotated(
            result.views, result.boxes, out, {v.name: detections_on(v, result) for v in result.views}
        )
        data["out"], data["annotated"] = str(out), [str(p) for p in images]
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
        return
    if not result.boxes:
        notice(f"nothing found for {target!r}")
    for b in result.boxes:
        c, s = b.center, b.size
        print(
            f"{b.label}: centre ({c[0]:.3f}, {c[1]:.3f}, {c[2]:.3f}) size ({s[0]:.3f}, {s[1]:.3f}, {s[2]:.3f}) "
            f"yaw {b.to_dict()['yaw_deg']:.1f} deg, {b.points:,} points"
        )
    if out is not None:
        notice(f"boxes: {out}; annotated views: {', '.join(data['annotated'])}")


@with_option_groups
def ask3d(
    cloud: Annotated[str, typer.Argument(help="Point-cloud file, or the colour image of an RGB-D frame.")],
    question: Annotated[str, typer.Argument(help="The question.")],
    loading: o.LoadingOptions,
    sampling: o.SamplingOptions,
    backend: o.BackendOptions,
    views: ViewsOpt = "bev",
    size: SizeOpt = 448,
    save_views: Annotated[
        Path | None, typer.Option("--save-views", help="Write the rendered views (PNG) into this folder.")
    ] = None,
    depth: DepthOpt = None,
    intrinsics: IntrinsicsOpt = None,
    drop_invalid: DropOpt = False,
    max_points: MaxPointsOpt = None,
    focus: FocusOpt = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (answer, views).")] = False,
) -> None:
    """Ask a question about a point cloud: its views go to the model as the images of one request."""
    from vreason.spatial.views import parse_views

    names = parse_views(views)
    if not question.strip():
        raise InvalidRequestError("the question is empty", param="question")
    if save_views is not None and not save_views.is_dir():
        raise InvalidRequestError(f"--save-views {save_views}: no such folder", param="save_views")
    points = open_input(cloud, depth, intrinsics, drop_invalid=drop_invalid, max_points=max_points)
    vr = o.open_model(o.engine_spec(loading, backend))
    from vreason.spatial.questions import ask_3d

    answer, rendered = ask_3d(vr, points, question, views=names, size=size, focus=focus, **sampling.overrides())
    saved = []
    for view in rendered if save_views is not None else []:
        path = save_views / f"{view.name}.png"
        view.image.save(path)
        saved.append(str(path))
    if as_json:
        print(
            json.dumps(
                {"answer": answer.text, "views": [v.to_dict() for v in rendered], "saved": saved}, ensure_ascii=False
            )
        )
        return
    print_answer(answer)
    if saved:
        notice(f"views: {', '.join(saved)}")
