"""`vreason tile IMAGE "question" [--grid 4x4|auto] [--overlap 0.1] [--json]`: ask about every tile at once.

For small details in large images: every tile is asked in one batch, plus the whole image once for context.
Prints the merged findings (distinct answers with the tiles that gave them), most reported first.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from vreason.cli import options as o
from vreason.cli.option_groups import with_option_groups
from vreason.cli.render import notice


@with_option_groups
def tile(
    image: Annotated[str, typer.Argument(help="Image path or URL.")],
    question: Annotated[str, typer.Argument(help="The question asked of every tile.")],
    loading: o.LoadingOptions,
    sampling: o.ShortSampling,
    backend: o.BackendOptions,
    media: o.MediaUrlOptions,
    grid: Annotated[str, typer.Option("--grid", help="ROWSxCOLS (e.g. 4x4), or auto from the pixel budget.")]
    = "auto",
    overlap: Annotated[float, typer.Option("--overlap", help="Share of a tile's side its neighbour repeats.")]
    = 0.1,
    max_tiles: Annotated[int, typer.Option("--max-tiles", help="Upper bound for --grid auto.")] = 16,
    overview: Annotated[bool, typer.Option("--overview/--no-overview", help="Also ask about the whole image.")]
    = True,
    keep_blank: Annotated[bool, typer.Option("--keep-blank", help="Ask about plain-background tiles too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (findings, vote, every tile).")]
    = False,
) -> None:
    """Ask a question of every tile of a large image and merge the answers."""
    from vreason.errors import InvalidRequestError
    from vreason.media import load_image
    from vreason.reasoning.tile_runner import ask_tiled
    from vreason.reasoning.tiling import parse_grid, plan_tiles

    if not question.strip():
        raise InvalidRequestError("the question is empty", param="question")
    rows_cols = parse_grid(grid)
    plan_tiles((64, 64), *(rows_cols or (1, 1)), overlap)  # checks overlap before the model loads
    overrides = sampling.overrides()
    policy = media.policy()
    spec = o.engine_spec(loading, backend, media_policy=policy)
    prepared = load_image(image, policy)
    vr = o.open_model(spec)
    result = ask_tiled(vr, prepared, question, grid=rows_cols, overlap=overlap, max_tiles=max_tiles,
                       overview=overview, skip_blank=not keep_blank, **overrides)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    rows, cols = result.grid
    asked = sum(t.text is not None for t in result.tiles)
    notice(f"{rows}x{cols} tiles, {asked} asked ({len(result.tiles) - asked} plain background), {result.time_s:.2f} s")
    for finding in result.findings:
        print(f"{finding.answer}\t{', '.join(finding.sources)}")
