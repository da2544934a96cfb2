"""The shared CLI options (model loading, sampling, backend) are declared once, in cli/options.py's groups, and
every command that offers one offers that declaration; a new group field reaches the commands with no other edit.
Flags that cannot work fail before any model loads (nothing here loads one)."""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
import typer
from typer.models import OptionInfo
from typer.testing import CliRunner

from vreason.cli import options as o
from vreason.cli.app import app
from vreason.cli.option_groups import Fields, group_parameters, with_option_groups
from vreason.errors import InvalidRequestError

GROUPS = (o.LoadingOptions, o.SamplingOptions, o.BackendOptions, o.MediaUrlOptions)
SHARED = {name: group for group in GROUPS for name in group_parameters(group)}
# Options that share a name with a group field but are another option, on purpose:
OWN_OPTIONS = {
    ("eval", "seed"): "the seed of the generated sample data",
    ("task samples", "seed"): "the seed of the generated sample data",
    ("finetune", "seed"): "the training seed",
    ("vllm-launch", "model"): "vLLM's flags: required, with vLLM's defaults",
    ("vllm-launch", "dtype"): "vLLM's flags",
    ("vllm-launch", "min_pixels"): "vLLM's processor bounds, the checkpoint's by default",
    ("vllm-launch", "max_pixels"): "vLLM's processor bounds, the checkpoint's by default",
}


def commands(typer_app: typer.Typer = app, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for info in typer_app.registered_commands:
        yield f"{prefix}{info.name or info.callback.__name__}", info.callback
    for group in typer_app.registered_groups:
        yield from commands(group.typer_instance, f"{prefix}{group.name} ")


def option_info(parameter: inspect.Parameter) -> OptionInfo:
    [info] = [m for m in getattr(parameter.annotation, "__metadata__", ()) if isinstance(m, OptionInfo)]
    return info


def test_every_shared_option_of_every_command_is_the_group_declaration():
    checked = 0
    for name, callback in commands():
        for parameter in inspect.signature(callback, eval_str=True).parameters.values():
            if parameter.name not in SHARED or (name, parameter.name) in OWN_OPTIONS:
                continue
            declared = group_parameters(SHARED[parameter.name])[parameter.name]
            assert option_info(parameter) is option_info(declared), f"vreason {name} declares --{parameter.name}"
            assert parameter.default == declared.default
            checked += 1
    assert checked > 80  # 9 commands take the groups; a broken walk must not pass by checking nothing


def test_commands_that_offer_a_shared_option_show_the_same_flag_help_and_default():
    root = typer.main.get_command(app)
    seen: dict[str, tuple] = {}
    for path, command in click_commands(root, []):
        for param in command.params:
            if param.name not in SHARED or (path, param.name) in OWN_OPTIONS:
                continue
            facts = (tuple(param.opts), param.help, param.default, param.envvar)
            assert seen.setdefault(param.name, facts) == facts, f"vreason {path} --{param.name}"
    assert {"device", "model", "temperature", "upstream", "backend"} <= seen.keys()


def click_commands(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield " ".join(path), command
        return
    for name, sub in subcommands.items():
        yield from click_commands(sub, [*path, name])


@dataclasses.dataclass(frozen=True)
class WiderLoading(o.LoadingOptions):
    gpu_share: Annotated[float | None, typer.Option(help="A new loading option.")] = None


def test_a_new_group_field_is_one_edit_and_arrives_in_the_group_instance():
    received = {}

    @with_option_groups
    def run(question: Annotated[str, typer.Argument()], loading: WiderLoading,
            quick: Annotated[o.SamplingOptions, Fields("seed")], loud: bool = False) -> None:
        received.update(question=question, loading=loading, quick=quick, loud=loud)

    cli = typer.Typer()
    cli.command()(run)
    cli.command("other")(lambda: None)  # two commands, so `run` is addressed by name
    result = CliRunner().invoke(cli, ["run", "why?", "--gpu-share", "0.5", "--device", "cpu", "--seed", "3", "--loud"])
    assert result.exit_code == 0, result.output
    assert received["loading"] == WiderLoading(gpu_share=0.5, device="cpu")
    assert received["quick"] == o.SamplingOptions(seed=3)
    assert (received["question"], received["loud"]) == ("why?", True)
    usage = CliRunner().invoke(cli, ["run", "--help"]).output
    assert "--gpu-share" in usage
    assert "--seed" in usage
    assert "--temperature" not in usage  # Fields("seed") offers only --seed


def test_group_misuse_fails_when_the_command_is_declared():
    with pytest.raises(TypeError, match="SamplingOptions has no option tempo"):
        @with_option_groups
        def bad_field(s: Annotated[o.SamplingOptions, Fields("tempo")]) -> None: ...

    with pytest.raises(TypeError, match="option 'seed' is declared twice"):

        @with_option_groups
        def twice(s: o.SamplingOptions, seed: int = 0) -> None: ...


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--backend", "openai"], "needs at least one upstream URL"),
        (["--upstream", "http://127.0.0.1:9/v1"], "need backend 'openai'"),
        (["--backend", "openai", "--upstream", "http://127.0.0.1:9/v1", "--adapter", "lora/"],
         "adapter ('lora/'): only backend 'local'"),
        (["--device", "gpu"], "device ('gpu') must be one of"),
        (["--max-pixels", "2048", "--min-pixels", "4096"], "max_pixels (2048) must be >= min_pixels (4096)"),
        (["--temperature", "9"], "temperature (9.0) must be between 0 and 2"),
    ],
)
def test_bad_flags_fail_before_the_image_is_read_or_a_model_loads(flags, needle):
    result = invoke("ask", "/no/such/image.png", "what?", *flags)
    assert isinstance(result.exception, InvalidRequestError), result.output
    assert needle in str(result.exception)


def test_the_backend_can_come_from_the_environment():
    result = invoke("tile", "/no/such/image.png", "what?", env={"VREASON_BACKEND": "openai"})
    assert isinstance(result.exception, InvalidRequestError)
    assert "needs at least one upstream URL" in str(result.exception)


def test_serve_checks_the_backend_before_loading(monkeypatch):
    monkeypatch.delenv("VREASON_API_KEY", raising=False)
    result = invoke("serve", "--backend", "openai")
    assert isinstance(result.exception, InvalidRequestError)
    assert "loading" not in result.output


def test_flags_show_no_value_in_help_and_take_none():
    root = typer.main.get_command(app)
    paths = ["", *(path for path, _ in click_commands(root, []))]
    json_flags = 0
    for path in paths:
        result = invoke(*path.split(), "--help")
        assert result.exit_code == 0, result.output
        # `--json <bool>` read as "--json takes a value", and `--json true` then made "true" an image path
        assert "<bool>" not in result.output, f"vreason {path} --help"
        json_flags += "--json" in result.output
    assert json_flags >= 6  # ask, eval, ground, models, reason, tile: a broken walk must not pass by checking nothing
    given_a_value = invoke("models", "--json=true")
    assert given_a_value.exit_code == 2
    assert "does not take a value" in given_a_value.output


def test_media_url_flags_are_one_group_that_ask_and_serve_share():
    for name in ("ask", "reason", "ground", "tile", "task run", "serve"):
        help_text = CliRunner().invoke(app, [*name.split(), "--help"], env={"COLUMNS": "200"}).output
        assert "--allow-private-media-urls" in help_text, name
        assert "--allowed-media-domains" in help_text, name
    media = o.MediaUrlOptions(allowed_media_domains=["Images.Example.com, lan.local", "cdn.example.org"],
                              allow_private_media_urls=True)
    policy = media.policy()
    assert policy.allow_private_urls
    assert policy.allowed_domains == ("images.example.com", "lan.local", "cdn.example.org")
    assert policy.allow_local_files  # a person's own files stay readable on the command line
    assert not o.MediaUrlOptions().policy().allow_private_urls


def test_a_yes_no_word_after_a_flag_is_its_value_not_an_argument():
    as_json = invoke("models", "--json", "true")  # before: "Got unexpected extra argument (true)"
    assert as_json.exit_code == 0, as_json.output
    assert isinstance(json.loads(as_json.output), list)
    as_table = invoke("models", "--json", "False")
    assert as_table.exit_code == 0, as_table.output
    assert not as_table.output.lstrip().startswith("[")
    after_dashes = invoke("models", "--json", "--", "true")  # after `--` a word is an argument again
    assert after_dashes.exit_code == 2
