"""`vreason reason IMAGE... --steps "q1" "q2" ... [--vote K] [--cot] [--json]`: a multi-step chain.

Each step's answer is in the conversation the next step sees, and `{previous}`, `{stepN}`, `{previous_boxes}`
in a step name earlier results explicitly. The final answer goes to stdout, the steps to stderr; `--json`
prints the whole trace (prompt, raw output, parsed answer, tokens and time per step, votes).
"""

from __future__ import annotations

from typing import Annotated

import click
import typer

from vreason.cli import options as o
from vreason.cli.flag_help import FlagHelpCommand
from vreason.cli.option_groups import with_option_groups
from vreason.cli.render import notice
from vreason.errors import InvalidRequestError

STEPS_FLAG = "--steps"


class StepsCommand(FlagHelpCommand):
    """Reads `--steps q1 q2 q3` (one flag, several values) as `--steps q1 --steps q2 --steps q3`.

    click options take a fixed number of values; the list of steps ends at the next argument that starts
    with "--" (so a step cannot start with "--"; one starting with a single "-" is fine).
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_steps(args))


def expand_steps(args: list[str]) -> list[str]:
    out: list[str] = []
    collecting = False
    for arg in args:
        if arg == STEPS_FLAG:
            collecting = True
            continue
        if arg.startswith("--"):
            collecting = False
        if collecting:
            out += [STEPS_FLAG, arg]
        else:
            out.append(arg)
    return out


ReasonSampling = Annotated[
    o.SamplingOptions,
    o.Fields("temperature", "top_p", "top_k", "max_new_tokens", "repetition_penalty", "presence_penalty",
             "frequency_penalty", "seed"),
]


@with_option_groups
def reason(
    images: Annotated[list[str], typer.Argument(help="Image paths or URLs the chain is about.")],
    loading: o.LoadingOptions,
    sampling: ReasonSampling,
    backend: o.BackendOptions,
    media: o.MediaUrlOptions,
    steps: Annotated[list[str] | None, typer.Option(
        STEPS_FLAG, help='The questions in order: --steps "q1" "q2" ...; {previous}, {stepN}, {previous_boxes} '
        "and {stepN_boxes} name earlier results.")] = None,
    vote: Annotated[int, typer.Option("--vote", help="Self-consistency: K samples per step, majority answer.")] = 1,
    cot: Annotated[bool, typer.Option("--cot", help="Ask for step-by-step reasoning; extract the final answer.")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole trace as one JSON object.")] = False,
    system: o.SystemOpt = None,
) -> None:
    """Ask a chain of questions about the same images, each step building on the last."""
    from vreason.media import load_image
    from vreason.reasoning.chains import check_chain, run_chain

    if not steps:
        raise InvalidRequestError('give the questions with --steps "q1" "q2" ...', param="steps")
    check_chain(steps, vote)
    overrides = sampling.overrides()
    policy = media.policy()
    spec = o.engine_spec(loading, backend, media_policy=policy)
    prepared = [load_image(src, policy) for src in images]  # bad inputs fail before the model loads
    vr = o.open_model(spec)
    trace = run_chain(vr, prepared, steps, vote=vote, cot=cot, system=system, **overrides)
    if as_json:
        print(trace.to_json())
        return
    for step in trace.steps:
        agreement = f" [agreement {step.vote.agreement:.0%} of {len(step.samples)}]" if step.vote else ""
        boxes = f" [{len(step.detections)} box(es)]" if step.detections else ""
        notice(f"{step.index}. {step.prompt}\n   -> {step.answer}{agreement}{boxes}")
    print(trace.answer, flush=True)
