"""Ask about a large image tile by tile: every tile in one batch through the engine, answers and boxes merged.

`ask_tiled` sends the question for each tile of the grid (plus, for context, the whole image once: the
"overview" pass a single request would have made) through `chat_many`, so the engine batches them. Answers
merge two ways: `findings`, the union of distinct (normalised) items any tile reported with the tiles that
reported them, and `vote`, the majority over tiles. Boxes in tile answers are mapped into the whole image's
pixels and de-duplicated with NMS; a box that touches an inner tile edge scores lower, so the neighbour's
whole view of the object wins. Tiles of plain background are skipped unless `skip_blank=False`.

`aask_tiled` / `alocate_tiled` run over an `AsyncVReason` (cutting and checking the tiles on a worker thread, as
pixel work would stall the event loop); `ask_tiled` / `locate_tiled` are their blocking forms over a `VReason`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vreason.engine.types import Answer, Message
from vreason.media import ImageSource, PreparedImage
from vreason.reasoning.answer_extraction import answer_items
from vreason.reasoning.grounding import Detection, GroundingKind, as_kind, grounding_prompt, parse_detections
from vreason.reasoning.locate import EXACT_SAMPLING
from vreason.reasoning.nms import non_max_suppression
from vreason.reasoning.tiling import DEFAULT_MAX_TILES, DEFAULT_OVERLAP, Tile, auto_grid, is_blank, plan_tiles
from vreason.reasoning.voting import Vote, majority_vote

if TYPE_CHECKING:
    from PIL import Image

    from vreason.api import VReason
    from vreason.async_api import AsyncVReason

OVERVIEW = "overview"
# Score of a box cut by a tile edge: below a whole box (1.0), so NMS keeps the neighbour's whole view.
CUT_BOX_SCORE = 0.5


@dataclass
class TileAnswer:
    tile: Tile | None  # None: the overview pass over the whole image
    text: str | None  # None: the tile was skipped as plain background
    items: list[str] = field(default_factory=list)  # the answer's normalised items
    detections: list[Detection] = field(default_factory=list)  # in the whole image's pixels
    answer: Answer | None = None

    @property
    def name(self) -> str:
        return self.tile.name if self.tile is not None else OVERVIEW

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"tile": self.name, "box": list(self.tile.box) if self.tile else None,
                                "answer": self.text, "skipped": self.text is None}
        if self.detections:
            data["detections"] = [d.to_dict() for d in self.detections]
        return data


@dataclass
class Finding:
    answer: str  # a normalised item
    sources: list[str]  # tile names (and "overview") that reported it

    def to_dict(self) -> dict:
        return {"answer": self.answer, "sources": self.sources, "count": len(self.sources)}


@dataclass
class TiledResult:
    question: str
    image: str
    image_size: tuple[int, int]
    grid: tuple[int, int]  # (rows, cols)
    overlap: float
    tiles: list[TileAnswer]
    overview: TileAnswer | None
    findings: list[Finding]  # union over tiles and overview, most reported first
    vote: Vote | None  # majority over the asked tiles (None when every tile was skipped)
    detections: list[Detection]  # merged boxes and points, whole-image pixels
    time_s: float
    prompt_tokens: int
    completion_tokens: int

    @property
    def answers(self) -> list[str]:
        return [f.answer for f in self.findings]

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "image": self.image,
            "image_size": list(self.image_size),
            "grid": list(self.grid),
            "overlap": self.overlap,
            "findings": [f.to_dict() for f in self.findings],
            "vote": self.vote.to_dict() if self.vote else None,
            "overview": self.overview.to_dict() if self.overview else None,
            "tiles": [t.to_dict() for t in self.tiles],
            "detections": [d.to_dict() for d in self.detections],
            "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens},
            "time_s": round(self.time_s, 4),
        }


async def aask_tiled(
    vr: AsyncVReason,
    image: ImageSource | PreparedImage,
    question: str,
    *,
    grid: tuple[int, int] | None = None,
    overlap: float = DEFAULT_OVERLAP,
    max_tiles: int = DEFAULT_MAX_TILES,
    overview: bool = True,
    skip_blank: bool = True,
    **sampling: Any,
) -> TiledResult:
    """Ask `question` about every tile of `image` (grid None: chosen from the engine's pixel budget)."""
    started = time.perf_counter()
    prepared = await vr.prepare_image(image)
    size = prepared.original_size
    rows, cols = grid or auto_grid(size, vr.engine.budget.updated(), max_tiles, overlap)
    tiles = plan_tiles(size, rows, cols, overlap)
    crops = await asyncio.to_thread(_cut, prepared.image, tiles, skip_blank)
    asked = list(crops)
    requests = [[Message.user(question, [PreparedImage(crops[t], f"{prepared.label} tile {t.name}")])] for t in asked]
    if overview:
        requests.append([Message.user(question, [prepared])])
    answers = await vr.chat_many(requests, **{**EXACT_SAMPLING, **sampling}) if requests else []
    by_tile = dict(zip(asked, answers, strict=False))
    results = [_tile_answer(t, by_tile.get(t), size) for t in tiles]
    overview_result = _tile_answer(None, answers[-1], size) if overview else None
    answered = [r for r in results if r.text is not None]
    everything = answered + ([overview_result] if overview_result else [])
    return TiledResult(
        question=question,
        image=prepared.label,
        image_size=size,
        grid=(rows, cols),
        overlap=overlap,
        tiles=results,
        overview=overview_result,
        findings=_union(everything),
        vote=majority_vote([r.text or "" for r in answered]) if answered else None,
        detections=_merge_detections(answered, overview_result),
        time_s=time.perf_counter() - started,
        prompt_tokens=sum(a.usage.prompt_tokens for a in answers),
        completion_tokens=sum(a.usage.completion_tokens for a in answers),
    )


def ask_tiled(
    vr: VReason,
    image: ImageSource | PreparedImage,
    question: str,
    *,
    grid: tuple[int, int] | None = None,
    overlap: float = DEFAULT_OVERLAP,
    max_tiles: int = DEFAULT_MAX_TILES,
    overview: bool = True,
    skip_blank: bool = True,
    **sampling: Any,
) -> TiledResult:
    """Ask `question` about every tile of `image` (grid None: chosen from the engine's pixel budget)."""
    return vr.run(aask_tiled(vr.aio, image, question, grid=grid, overlap=overlap, max_tiles=max_tiles,
                             overview=overview, skip_blank=skip_blank, **sampling))


async def alocate_tiled(
    vr: AsyncVReason,
    image: ImageSource | PreparedImage,
    target: str,
    *,
    kind: GroundingKind = "box",
    **options: Any,
) -> TiledResult:
    """Grounding tile by tile: every `target` in whole-image pixels, duplicates across tiles removed."""
    result = await aask_tiled(vr, image, grounding_prompt(target, kind), **options)
    result.detections = as_kind(result.detections, kind)  # after NMS, which needs the boxes
    return result


def locate_tiled(
    vr: VReason,
    image: ImageSource | PreparedImage,
    target: str,
    *,
    kind: GroundingKind = "box",
    **options: Any,
) -> TiledResult:
    """Grounding tile by tile: every `target` in whole-image pixels, duplicates across tiles removed."""
    return vr.run(alocate_tiled(vr.aio, image, target, kind=kind, **options))


def _cut(image: Image.Image, tiles: list[Tile], skip_blank: bool) -> dict[Tile, Image.Image]:
    """The crop of every tile to ask, in grid order (plain-background tiles left out when `skip_blank`)."""
    crops = {t: t.crop(image) for t in tiles}
    return {t: crop for t, crop in crops.items() if not (skip_blank and is_blank(crop))}


def place_in_image(detections: list[Detection], tile: Tile, image_size: tuple[int, int]) -> list[Detection]:
    """A tile's detections (0-1000 of the tile) in the whole image's pixels; cut-looking boxes score lower."""
    x1, y1 = tile.box[0], tile.box[1]
    placed = []
    for d in detections:
        moved = d.to_pixels(tile.size).shifted(x1, y1)
        if moved.box is not None and tile.touches_inner_edge(moved.box, image_size):
            moved = Detection(moved.label, moved.box, moved.point, CUT_BOX_SCORE)
        placed.append(moved)
    return placed


def _tile_answer(tile: Tile | None, answer: Answer | None, size: tuple[int, int]) -> TileAnswer:
    if answer is None:
        return TileAnswer(tile=tile, text=None)
    found = parse_detections(answer.text)
    detections = [d.to_pixels(size) for d in found] if tile is None else place_in_image(found, tile, size)
    items = [] if detections else answer_items(answer.text)  # a grounding answer's JSON is no finding
    return TileAnswer(tile=tile, text=answer.text, items=items, detections=detections, answer=answer)


def _union(results: list[TileAnswer]) -> list[Finding]:
    sources: dict[str, list[str]] = {}
    for result in results:
        for item in result.items:
            sources.setdefault(item, []).append(result.name)
    order = list(sources)
    ranked = sorted(order, key=lambda a: (-len(sources[a]), order.index(a)))
    return [Finding(a, sources[a]) for a in ranked]


def _merge_detections(tiles: list[TileAnswer], overview: TileAnswer | None) -> list[Detection]:
    found = [d for t in tiles for d in t.detections]
    if overview is not None:
        # The overview saw everything at low resolution: its boxes count less than a tile's close look.
        found += [Detection(d.label, d.box, d.point, CUT_BOX_SCORE * 0.5) for d in overview.detections]
    return non_max_suppression(found)
