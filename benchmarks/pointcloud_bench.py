"""Point-cloud speed and memory: a 1M-point PLY on disk to views ready and to a lifted 3D box; peak RSS of a
10M-point scan through the same path (voxel down-sampled); read speed of every supported format.

    .venv/bin/python benchmarks/pointcloud_bench.py [--points 1000000] [--big-points 10000000] [--repeat 3]

Targets (issue 25): 1M points to views ready <= 1 s on a 2-core CPU; the 10M scan within 2 GB peak RSS.
Times are the best of `--repeat` runs (other processes share the CPU). The lifted box is from the exact 2D
box of one object (no model in the loop: the model's time is the engine's, measured elsewhere). Each
measurement that must not see another's memory runs in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vreason.models.placement import cpu_model
from vreason.spatial.readers import read_cloud
from vreason.spatial.scenes import make_scene


def write_scene_ply(path: Path, points: int, seed: int = 7) -> dict:
    """A synthetic scene dense enough to hold about `points` points, as binary PLY; its first object's box."""
    from plyfile import PlyData, PlyElement

    density = points / 24.0  # the 4 x 4 m floor plus the objects' surfaces: about 24 m^2
    scene = make_scene(seed, count=5, density=density)
    cloud = scene.cloud
    vertex = np.empty(
        len(cloud), dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    )
    vertex["x"], vertex["y"], vertex["z"] = cloud.points.T
    vertex["red"], vertex["green"], vertex["blue"] = cloud.colors.T
    PlyData([PlyElement.describe(vertex, "vertex")]).write(str(path))
    box = scene.objects[0].box
    return {"points": len(cloud), "center": list(box.center), "size": list(box.size), "yaw": box.yaw}


def pipeline(path: str, truth: dict, views: tuple[str, ...]) -> dict:
    """Read, render, then lift the first object's exact 2D box on the bird's-eye view; seconds per step."""
    from vreason.spatial.boxes3d import Box3D, iou_3d
    from vreason.spatial.lift import estimate_ground, lift_box
    from vreason.spatial.views import prepared_for_views, render_views

    t0 = time.perf_counter()
    cloud = read_cloud(path)
    t1 = time.perf_counter()
    rendered_cloud, _ = prepared_for_views(cloud)
    rendered = render_views(rendered_cloud, views)
    t2 = time.perf_counter()
    ground = estimate_ground(rendered_cloud)
    target = Box3D(tuple(truth["center"]), tuple(truth["size"]), truth["yaw"])
    u, v, _ = rendered[0].camera.project(target.corners())
    lifted = lift_box(rendered[0], rendered_cloud, (u.min(), v.min(), u.max(), v.max()), ground=ground)
    t3 = time.perf_counter()
    return {
        "read_s": t1 - t0,
        "views_s": t2 - t1,
        "ready_s": t2 - t0,
        "lift_s": t3 - t2,
        "to_box_s": t3 - t0,
        "points": len(cloud),
        "rendered_points": len(rendered_cloud),
        "iou": iou_3d(lifted[0], target) if lifted else 0.0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_fresh_process(path: Path, truth: dict, views: tuple[str, ...]) -> dict:
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); from pointcloud_bench import pipeline; "
        f"print(json.dumps(pipeline({str(path)!r}, json.loads({json.dumps(json.dumps(truth))}), {views!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def format_speeds(folder: Path, points: int) -> list[tuple[str, int, float]]:
    """Seconds to read the same cloud from every format (ascii formats at a fifth of the points)."""
    import laspy
    from plyfile import PlyData, PlyElement
    from pypcd4 import PointCloud as Pcd

    rng = np.random.default_rng(0)
    xyz = rng.uniform(-10, 10, size=(points, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, size=(points, 3)).astype(np.uint8)
    small = points // 5
    vertex = np.empty(
        points, dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    )
    vertex["x"], vertex["y"], vertex["z"] = xyz.T
    vertex["red"], vertex["green"], vertex["blue"] = rgb.T
    PlyData([PlyElement.describe(vertex, "vertex")]).write(str(folder / "b.ply"))
    PlyData([PlyElement.describe(vertex[:small], "vertex")], text=True).write(str(folder / "a.ply"))
    Pcd.from_xyzrgb_points(np.column_stack([xyz, Pcd.encode_rgb(rgb).astype(np.float32)])).save(folder / "b.pcd")
    header = laspy.LasHeader(point_format=2, version="1.2")
    header.scales, header.offsets = [0.001] * 3, [0, 0, 0]
    las = laspy.LasData(header)
    las.x, las.y, las.z = (xyz[:, i].astype(float) for i in range(3))
    las.red, las.green, las.blue = (rgb[:, i].astype(np.uint16) * 257 for i in range(3))
    las.write(folder / "b.las")
    las.write(folder / "b.laz")
    np.savetxt(folder / "a.xyzrgb", np.column_stack([xyz[:small], rgb[:small]]), fmt="%.4f %.4f %.4f %d %d %d")
    np.save(folder / "b.npy", np.column_stack([xyz, rgb]).astype(np.float32))
    rows = []
    for name, count in (
        ("b.ply", points),
        ("a.ply", small),
        ("b.pcd", points),
        ("b.las", points),
        ("b.laz", points),
        ("a.xyzrgb", small),
        ("b.npy", points),
    ):
        best = min(_timed(lambda name=name: read_cloud(folder / name)) for _ in range(3))
        rows.append((name, count, best))
    return rows


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--big-points", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"CPU: {cpu_model()} ({platform.machine()}), Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        truth = write_scene_ply(folder / "scene.ply", args.points)
        size_mb = (folder / "scene.ply").stat().st_size / 1e6
        print(f"\n1 scene, {truth['points']:,} points, binary PLY {size_mb:.1f} MB (best of {args.repeat})")
        print(
            "| views | read s | views s | PLY to views ready s | lift s | PLY to lifted box s | box IoU | peak RSS MB |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for views in (("bev",), ("bev", "front", "side", "persp")):
            runs = [in_fresh_process(folder / "scene.ply", truth, views) for _ in range(args.repeat)]
            best = min(runs, key=lambda r: r["ready_s"])
            print(
                f"| {','.join(views)} | {best['read_s']:.3f} | {best['views_s']:.3f} | {best['ready_s']:.3f} | "
                f"{best['lift_s']:.3f} | {best['to_box_s']:.3f} | {best['iou']:.3f} | {best['peak_rss_mb']:.0f} |"
            )
        big = write_scene_ply(folder / "big.ply", args.big_points)
        size_mb = (folder / "big.ply").stat().st_size / 1e6
        run = in_fresh_process(folder / "big.ply", big, ("bev", "front", "side", "persp"))
        print(
            f"\n{big['points']:,}-point scan (binary PLY {size_mb:.0f} MB), four views: voxel down-sampled to "
            f"{run['rendered_points']:,} points; read {run['read_s']:.2f} s, views {run['views_s']:.2f} s, "
            f"lifted box {run['lift_s']:.2f} s (IoU {run['iou']:.3f}); peak RSS {run['peak_rss_mb']:.0f} MB "
            f"(target <= 2048 MB)"
        )
        (folder / "big.ply").unlink()
        print(f"\nReading {args.points:,} points (ascii formats: {args.points // 5:,}), best of 3:")
        print("| file | points | seconds | million points/s |")
        print("|---|---|---|---|")
        for name, count, seconds in format_speeds(folder, args.points):
            print(f"| {name} | {count:,} | {seconds:.3f} | {count / seconds / 1e6:.2f} |")


if __name__ == "__main__":
    main()
