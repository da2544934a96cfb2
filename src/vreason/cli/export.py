"""`vreason export ...`: a checkpoint in another runtime's format, offline, for deployment.

    vreason export openvino Qwen/Qwen3-VL-2B-Instruct --to qwen3-vl-2b-ov --weights int4
    vreason export openvino ./my-checkpoint --to ./my-checkpoint-ov          # fp16 weights
    vreason export openvino --to demo-ov                                     # the built-in demo model

The export runs `vreason ask/chat/serve/eval/ui --backend openvino --model DIR` (engine/backends/openvino.py);
how it is made: engine/backends/openvino_export.py. A hub id is read from the local cache when it is there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vreason.cli.flag_help import App

app = App(help="Export a checkpoint for another runtime (OpenVINO), offline.", no_args_is_help=True)


@app.command("openvino")
def openvino(
    checkpoint: Annotated[  # not `model`: the shared --model option (cli/options.py) is another flag
        str | None,
        typer.Argument(
            metavar="MODEL",
            help="Local checkpoint directory, cached hub id or short name. Default: the built-in demo model.",
        ),
    ] = None,
    to: Annotated[Path, typer.Option("--to", help="Directory for the OpenVINO IR and the processor files.")] = ...,  # type: ignore[assignment]
    weights: Annotated[
        str, typer.Option(help="fp16 | int8 | int4: weight precision (int8/int4: NNCF weight-only compression).")
    ] = "fp16",
) -> None:
    """Export a Qwen3-VL checkpoint to OpenVINO IR for `--backend openvino --model DIR`."""
    from vreason.engine.backends.openvino_export import export_openvino

    report = export_openvino(checkpoint, to, weights)
    print(
        f"exported {checkpoint or 'the built-in demo model'} to {report.out_dir} ({report.weights} weights, "
        f"{report.bytes_on_disk / 1e6:.1f} MB, {report.seconds:.0f} s); run it with "
        f"--backend openvino --model {report.out_dir}"
    )
