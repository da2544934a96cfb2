"""Point clouds from files: PLY (ascii/binary), PCD, LAS/LAZ, XYZ-style text and NumPy arrays, into one
`PointCloud` (float32 xyz, optional uint8 colours and float intensity).

Readers are maintained libraries, chosen by measurement (benchmarks/pointcloud_bench.py, README 3D section):
plyfile for PLY (binary 1M points in ~25 ms, memory-mapped), pypcd4 for PCD (~13 ms), laspy (+lazrs for LAZ,
~100 ms) and pandas' C parser for text (ascii PLY bodies, .xyz/.txt/.pts: ~0.8 s per million lines, where
plyfile's own ascii path takes ~30 s). Every reader ends in `checked_cloud`, which owns the limits: a cloud
must have points, at most `max_points`, and finite coordinates (NaN/inf rows are an error unless the caller
asks to drop them, as organised depth scans need). No rendering, no model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from vreason.errors import InvalidRequestError

MAX_POINTS = 50_000_000  # a 50M-point cloud is ~750 MB as float32 xyz + rgb: beyond that, down-sample first
TEXT_SUFFIXES = (".xyz", ".xyzrgb", ".xyzn", ".txt", ".pts", ".csv")
SUFFIXES = (".ply", ".pcd", ".las", ".laz", ".npy", ".npz", *TEXT_SUFFIXES)
_COLOR_NAMES = (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green", "diffuse_blue"))
_INTENSITY_NAMES = ("intensity", "scalar_intensity", "scalar_Intensity", "reflectance", "i")


@dataclass
class PointCloud:
    points: np.ndarray  # (N, 3) float32, in the file's own units and axes (z up is assumed by the views)
    colors: np.ndarray | None = None  # (N, 3) uint8 RGB, or None when the file has none
    intensity: np.ndarray | None = None  # (N,) float32 (LiDAR return strength), or None
    source: str = "<array>"  # how error messages name it

    def __len__(self) -> int:
        return len(self.points)

    def subset(self, index: np.ndarray) -> PointCloud:
        """The points selected by `index` (a boolean mask or indices), colours and intensity alike."""
        return PointCloud(
            self.points[index],
            None if self.colors is None else self.colors[index],
            None if self.intensity is None else self.intensity[index],
            self.source,
        )

    @cached_property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(min, max) corners; computed once (every view and the lifting ask), the points are never edited."""
        return self.points.min(axis=0), self.points.max(axis=0)


def read_cloud(path: str | Path, *, max_points: int = MAX_POINTS, drop_invalid: bool = False) -> PointCloud:
    """The cloud in `path`, by its suffix. Raises InvalidRequestError (one line, naming the file) for a
    missing file, an unknown suffix, an unreadable body or a cloud outside the limits."""
    path = Path(path)
    if not path.is_file():
        raise InvalidRequestError(f"{path}: no such point-cloud file", param="cloud")
    suffix = path.suffix.lower()
    readers = {
        ".ply": _read_ply,
        ".pcd": _read_pcd,
        ".las": _read_las,
        ".laz": _read_las,
        ".npy": _read_npy,
        ".npz": _read_npz,
    }
    reader = readers.get(suffix) or (_read_text if suffix in TEXT_SUFFIXES else None)
    if reader is None:
        raise InvalidRequestError(
            f"{path}: unknown point-cloud format {suffix or '(no suffix)'}; use one of {', '.join(SUFFIXES)}",
            param="cloud",
        )
    try:
        points, colors, intensity = reader(path)
    except InvalidRequestError:
        raise
    except ImportError as err:
        raise InvalidRequestError(f"{path}: reading {suffix} needs `pip install vreason[3d]` ({err})") from None
    except Exception as err:  # a library's parse error: say which file and why, in one line
        raise InvalidRequestError(
            f"{path}: not a readable {suffix} cloud ({type(err).__name__}: {' '.join(str(err).split())})",
            param="cloud",
        ) from None
    return checked_cloud(points, colors, intensity, source=str(path), max_points=max_points, drop_invalid=drop_invalid)


def checked_cloud(
    points,
    colors=None,
    intensity=None,
    *,
    source: str = "<array>",
    max_points: int = MAX_POINTS,
    drop_invalid: bool = False,
) -> PointCloud:
    """A `PointCloud` from arrays, with the limits applied (the one place they live)."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3:
        raise InvalidRequestError(f"{source}: points must be an (N, 3) array, got shape {points.shape}", param="cloud")
    if len(points) > max_points:
        raise InvalidRequestError(
            f"{source}: {len(points):,} points is over the limit of {max_points:,}; "
            "down-sample it first or raise max_points",
            param="cloud",
        )
    points = points.astype(np.float32, copy=False)
    finite = np.isfinite(points).all(axis=1)
    bad = len(points) - int(finite.sum())
    if bad and not drop_invalid:
        raise InvalidRequestError(
            f"{source}: {bad:,} of {len(points):,} points have NaN or infinite "
            "coordinates; drop them with drop_invalid=True (--drop-invalid)",
            param="cloud",
        )
    cloud = PointCloud(points, _as_rgb(colors, source, len(points)), _as_intensity(intensity, len(points)), source)
    if bad:
        cloud = cloud.subset(finite)
    if len(cloud) == 0:
        raise InvalidRequestError(f"{source}: the point cloud is empty", param="cloud")
    return cloud


def _as_rgb(colors, source: str, n: int) -> np.ndarray | None:
    if colors is None:
        return None
    colors = np.asarray(colors)
    if colors.shape != (n, 3):
        raise InvalidRequestError(f"{source}: colours must be ({n}, 3), got {colors.shape}", param="cloud")
    if colors.dtype == np.uint8:
        return colors
    if np.issubdtype(colors.dtype, np.floating) and np.nanmax(colors, initial=0) <= 1.0:
        colors = colors * 255.0  # 0-1 floats (Open3D's convention)
    elif colors.dtype == np.uint16 or np.nanmax(colors, initial=0) > 255:
        colors = colors / 257.0  # 16-bit channels (LAS)
    return np.clip(np.nan_to_num(colors), 0, 255).astype(np.uint8)


def _as_intensity(values, n: int) -> np.ndarray | None:
    return None if values is None else np.asarray(values, dtype=np.float32).reshape(n)


def _color_columns(names) -> list[str] | None:
    return next((list(group) for group in _COLOR_NAMES if all(g in names for g in group)), None)


def _fields(table, names) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """xyz, colours and intensity from a table with named columns (a structured array or a DataFrame)."""
    missing = [a for a in "xyz" if a not in names]
    if missing:
        raise InvalidRequestError(
            f"the vertices have no {', '.join(missing)} coordinates (found: {', '.join(names)})", param="cloud"
        )
    points = np.stack([np.asarray(table[a], dtype=np.float32) for a in "xyz"], axis=1)
    rgb = _color_columns(names)
    colors = None if rgb is None else np.stack([np.asarray(table[c]) for c in rgb], axis=1)
    inten = next((n for n in _INTENSITY_NAMES if n in names), None)
    return points, colors, None if inten is None else np.asarray(table[inten])


def _read_ply(path: Path):
    from plyfile import PlyData

    with path.open("rb") as stream:
        header = PlyData._parse_header(stream)  # the header only: the body is read below by the faster route
        elements = {e.name: e for e in header.elements}
        if "vertex" not in elements:
            raise InvalidRequestError(f"{path}: the PLY has no vertex element", param="cloud")
        vertex = elements["vertex"]
        names = [p.name for p in vertex.properties]
        scalar_only = all(not hasattr(p, "len_dtype") for p in vertex.properties)
        if header.text and header.elements[0].name == "vertex" and scalar_only:
            import pandas as pd

            if vertex.count == 0:
                return np.empty((0, 3), np.float32), None, None
            table = pd.read_csv(
                stream, sep=r"\s+", header=None, names=names, nrows=vertex.count, engine="c", comment=None
            )
            if len(table) < vertex.count:
                raise InvalidRequestError(
                    f"{path}: the header promises {vertex.count:,} vertices, the body has {len(table):,}", param="cloud"
                )
            return _fields(table, names)
    data = PlyData.read(str(path), mmap="c")["vertex"].data
    return _fields(data, data.dtype.names)


def _read_pcd(path: Path):
    from pypcd4 import PointCloud as PcdCloud

    pcd = PcdCloud.from_path(path)
    names = list(pcd.fields)
    table = {name: pcd.pc_data[name] for name in names}
    points, _, intensity = _fields(table, names)
    colors = None
    if "rgb" in names or "rgba" in names:  # PCL packs 8-bit RGB into one float32/uint32 field
        packed = np.asarray(table["rgb" if "rgb" in names else "rgba"])
        packed = packed.view(np.uint32) if packed.dtype.kind == "f" else packed.astype(np.uint32)
        colors = np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=1).astype(np.uint8)
    return points, colors, intensity


def _read_las(path: Path):
    import laspy

    las = laspy.read(path)
    points = np.stack([np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)], axis=1)
    dims = set(las.point_format.dimension_names)
    colors = np.stack([las.red, las.green, las.blue], axis=1) if {"red", "green", "blue"} <= dims else None
    return points, colors, np.asarray(las.intensity) if "intensity" in dims else None


def _columns(array: np.ndarray, source: str):
    """(N, 3) xyz, (N, 4) xyz + intensity, (N, 6) xyz + rgb, (N, 7) xyz + intensity + rgb."""
    if array.ndim != 2 or array.shape[1] not in (3, 4, 6, 7):
        raise InvalidRequestError(
            f"{source}: expected columns xyz, xyz+intensity, xyz+rgb or xyz+intensity+rgb "
            f"(3, 4, 6 or 7), got shape {array.shape}",
            param="cloud",
        )
    cols = array.shape[1]
    intensity = array[:, 3] if cols in (4, 7) else None
    colors = array[:, cols - 3 :] if cols >= 6 else None
    return array[:, :3], colors, intensity


def _read_npy(path: Path):
    return _columns(np.load(path, allow_pickle=False), str(path))


def _read_npz(path: Path):
    with np.load(path, allow_pickle=False) as data:
        keys = set(data.files)
        key = next((k for k in ("points", "xyz", "positions") if k in keys), None)
        if key is None:
            if len(keys) == 1:
                return _columns(data[next(iter(keys))], str(path))
            raise InvalidRequestError(f"{path}: no 'points' (or 'xyz') array among {sorted(keys)}", param="cloud")
        colors = next((data[k] for k in ("colors", "rgb", "colours") if k in keys), None)
        intensity = data["intensity"] if "intensity" in keys else None
        return _columns(data[key], str(path))[0], colors, intensity


def _read_text(path: Path):
    import pandas as pd

    sep = "," if path.suffix.lower() == ".csv" else r"\s+"
    # A .pts file starts with its point count on a line of its own; '#' lines are comments in most exporters.
    skip = 1 if path.suffix.lower() == ".pts" else 0
    table = pd.read_csv(path, sep=sep, header=None, comment="#", skiprows=skip, engine="c")
    if table.shape[1] == 1 or not all(pd.api.types.is_numeric_dtype(t) for t in table.dtypes):
        raise InvalidRequestError(
            f"{path}: text clouds are numeric columns x y z [intensity] [r g b], one point a line", param="cloud"
        )
    return _columns(table.to_numpy(dtype=np.float64), str(path))
