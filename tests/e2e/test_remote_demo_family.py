"""A RemoteEngine in front of `vreason serve` learns whether the served model is demo family from the server's
`/v1/models` listing, so memory asks its demo question forms of a demo model served under any name; a model
that is not (the tiny random Qwen3-VL) is listed as not, even under the built-in's served name. A model named
with `--model` is looked up the same way (`GET /v1/models/{name}`); only where no upstream lists it does the
built-in's served name decide."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vreason.engine.backends import RemoteEngine
from vreason.memory.describe import SHAPES_QUESTIONS, questions_for


def _serve(vr, name: str) -> Iterator[str]:
    from vreason.server import ServerSettings, create_app
    from vreason.server.launch import BackgroundServer

    server = BackgroundServer(create_app(vr.engine, ServerSettings(served_model_names=(name,))))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def demo_upstream(demo) -> Iterator[str]:
    yield from _serve(demo, "shapes-helper")  # the built-in, under a name that is not "vreason-demo"


@pytest.fixture(scope="module")
def tiny_upstream(vr) -> Iterator[str]:
    yield from _serve(vr, "vreason-demo")  # a general model under the name the built-in is served as


def test_the_listing_marks_the_demo_model_and_the_remote_engine_reads_it(demo_upstream):
    import openai

    client = openai.OpenAI(base_url=f"{demo_upstream}/v1", api_key="unused")
    listed = client.models.list().data
    assert [m.id for m in listed] == ["shapes-helper"]
    assert listed[0].model_extra["demo_family"] is True
    assert client.models.retrieve("shapes-helper").model_extra["demo_family"] is True

    engine = RemoteEngine([demo_upstream])
    assert engine.model_name == "shapes-helper"
    assert engine.demo_family
    assert questions_for(engine.demo_family) is SHAPES_QUESTIONS
    # named on the command line, the listing is still asked, for that name
    assert RemoteEngine([demo_upstream], model="shapes-helper").demo_family
    assert not RemoteEngine([demo_upstream], model="not-served").demo_family  # not listed: by name, not the demo's


def test_a_model_that_is_not_the_demos_kind_is_listed_as_not_whatever_its_name(tiny_upstream):
    import openai

    client = openai.OpenAI(base_url=f"{tiny_upstream}/v1", api_key="unused")
    assert client.models.list().data[0].model_extra["demo_family"] is False
    engine = RemoteEngine([tiny_upstream])
    assert engine.model_name == "vreason-demo"
    assert not engine.demo_family  # the listing decides over the name
    assert not RemoteEngine([tiny_upstream], model="vreason-demo").demo_family  # named: the listing still decides


def test_a_named_model_on_an_upstream_that_does_not_answer_goes_by_its_name_and_the_upstream_stays_in_rotation():
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = RemoteEngine([f"http://127.0.0.1:{port}"], model="vreason-demo")
    assert engine.demo_family  # no listing to ask: the built-in's served name
    assert not RemoteEngine([f"http://127.0.0.1:{port}"], model="Qwen/Qwen3-VL-8B-Instruct").demo_family
    assert all(u.health.available and u.health.consecutive_failures == 0 for u in engine.upstreams)


def test_a_named_model_whose_name_holds_a_slash_is_looked_up_as_one_name(demo):
    for url in _serve(demo, "org/shapes-helper"):  # as hub ids are named
        assert RemoteEngine([url], model="org/shapes-helper").demo_family
        assert not RemoteEngine([url], model="../chat/completions").demo_family  # one escaped name, no path steps
