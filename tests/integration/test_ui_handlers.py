"""The web UI's handlers without a browser: each tab's async handler driven on an event loop of the test's own,
over `AsyncVReason` on the demo model, as Gradio drives them on its loop. The page itself, in Chromium, is
tests/e2e/test_ui.py.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from PIL import Image

from vreason.async_api import AsyncVReason

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ROOT / "examples" / "shapes.png"
# temperature, top_p, top_k, max new tokens, presence penalty, seed: SamplingControls.inputs' order
GREEDY = (0.0, 1.0, 0, 16, 0.0, None)


@pytest.fixture(scope="module")
def demo():
    from vreason import VReason

    vr = VReason()
    yield vr
    vr.close()


def collect(handler) -> list[tuple]:
    async def run() -> list[tuple]:
        return [out async for out in handler]

    return asyncio.run(run())


def header_of(app) -> str:
    return next(block.value for block in app.blocks.values() if getattr(block, "elem_id", None) == "header")


def test_the_app_takes_a_vreason_or_an_async_vreason_and_says_when_it_runs_the_demo(demo, vr):
    from vreason.ui import build_app

    for face in (demo, demo.aio, AsyncVReason(demo.engine)):
        header = header_of(build_app(face))
        assert demo.model_name in header
        assert "built-in **demo model**" in header
    assert "demo model" not in header_of(build_app(vr.aio))  # a checkpoint of the user's own


def test_chat_streams_the_answer_keeps_the_turn_and_saves_it_for_the_user(demo, tmp_path):
    from vreason.ui.chat_tab import ChatTab
    from vreason.ui.conversation_store import ConversationStore

    store = ConversationStore(tmp_path)
    tab = ChatTab(demo.aio, store)
    box = {"text": "What color is the shape?", "files": [str(SHAPES)]}
    outputs = collect(tab.submit(None, box, None, "", demo.model_name, *GREEDY))
    assert outputs[0][2] == "⏳ Generating…"
    display, _, status, state = outputs[-1][:4]
    assert display[-1]["content"].startswith("red\n\n<sub class=\"vr-stats\">")  # the stats line under its answer
    assert status == ""  # not under the input box
    [turn] = state.conversation.turns
    assert (turn.question, turn.answer) == ("What color is the shape?", "red")
    assert "tokens" in turn.stats
    assert len(turn.images) == 1
    assert (tmp_path / ".images" / turn.images[0]).read_bytes() == SHAPES.read_bytes()  # kept once, by content
    assert [c.id for c in store.for_user("local").list()] == [state.conversation.id]

    # The next turn sees the first one's image through the history.
    outputs = collect(tab.submit(None, {"text": "What color is the shape?", "files": []}, state, "",
                                 demo.model_name, *GREEDY))
    state = outputs[-1][3]
    assert [t.answer for t in state.conversation.turns] == ["red", "red"]
    assert len(store.for_user("local").get(state.conversation.id).turns) == 2


@pytest.mark.parametrize("name", ["notes.png", "notes.txt"])  # a text file posing as an image, and a plain one
def test_a_bad_upload_reads_clearly_sends_nothing_and_leaves_the_conversation_as_it_was(demo, tmp_path, name):
    import gradio as gr

    from vreason.ui.chat_tab import ChatState, ChatTab
    from vreason.ui.conversation_store import ConversationStore

    broken = tmp_path / name
    broken.write_text("not a picture")
    state = ChatState()
    finished = demo.engine.stats().finished_total
    box = {"text": "What color is the shape?", "files": [str(broken)]}
    outputs = collect(ChatTab(demo.aio, ConversationStore(tmp_path / "data")).submit(
        None, box, state, "", demo.model_name, *GREEDY))
    assert len(outputs) == 1
    display, box_update, status, kept = outputs[0][:4]
    assert name in status
    assert "not an image" in status
    assert kept is state
    assert display == []
    assert box_update == gr.skip()  # the question and the files stay in the input box
    assert demo.engine.stats().finished_total == finished  # nothing went to the model
    assert not (tmp_path / "data").exists()  # nothing kept either


def test_leaving_the_page_mid_answer_aborts_the_request(vr, tmp_path):
    """Gradio closes the handler when the browser goes away; the engine must stop generating for it."""
    from vreason.ui.chat_tab import ChatTab
    from vreason.ui.conversation_store import ConversationStore

    engine = vr.engine
    before = engine.stats().aborted_total
    rambling = (1.0, 1.0, 0, 2000, 0.0, 3)  # the tiny random model does not stop by itself

    async def leave_after_first_words() -> str:
        handler = ChatTab(vr.aio, ConversationStore(tmp_path)).submit(
            None, {"text": "Tell me a long story.", "files": []}, None, "", vr.model_name, *rambling)
        await anext(handler)  # "Generating…"
        await anext(handler)  # the first streamed words
        await handler.aclose()
        deadline = time.monotonic() + 10
        while engine.stats().aborted_total == before and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        # The engine keeps serving; once this answer is back it has also let go of the aborted request, so this
        # loop can close without the engine still writing to it.
        return (await vr.aio.ask(None, "Hello", max_new_tokens=2)).finish_reason

    assert asyncio.run(leave_after_first_words()) in ("length", "stop")
    stats = engine.stats()
    assert stats.aborted_total == before + 1
    assert stats.running == 0


@pytest.mark.parametrize("leave", ["new", "delete-unsaved", "delete-saved"])
def test_leaving_a_conversation_mid_answer_stops_it_and_keeps_it_only_when_not_deleted(vr, tmp_path, leave):
    """The sidebar's handlers run on Gradio's worker threads while the answer streams on its loop: opening another
    conversation (or deleting this one) stops the answer, waits until it is kept, and nothing more reaches the page.
    Meanwhile a second question on the same state is refused, not run beside it."""
    import gradio as gr

    from vreason.ui.chat_state import LEAVE_WAIT_S, ChatState
    from vreason.ui.chat_tab import BUSY, ChatTab
    from vreason.ui.conversation_store import ConversationStore

    store = ConversationStore(tmp_path)
    tab = ChatTab(vr.aio, store)
    state = ChatState()
    rambling = (1.0, 1.0, 0, 2000, 0.0, 3)
    if leave == "delete-saved":  # a conversation on disk already, its next answer streaming when deleted
        collect(tab.submit(None, {"text": "Hello", "files": []}, state, "", vr.model_name, 1.0, 1.0, 0, 2, 0.0, 3))
        assert len(store.for_user("local").list()) == 1
        tab.sidebar.delete(None, state)  # the first click only arms the button
    before = vr.engine.stats().aborted_total

    async def leave_after_first_words() -> tuple:
        handler = tab.submit(None, {"text": "Tell me a long story.", "files": []}, state, "", vr.model_name,
                             *rambling)
        await anext(handler)  # "Generating…"
        await anext(handler)  # the first streamed words
        rest = asyncio.create_task(_drain(handler))  # the page keeps reading the stream meanwhile
        second = await _drain(tab.submit(None, {"text": "And another?", "files": []}, state, "", vr.model_name,
                                         *rambling))
        started = time.monotonic()
        page = await asyncio.to_thread(tab.sidebar.new if leave == "new" else tab.sidebar.delete, None, state)
        return second, page, time.monotonic() - started, await rest

    second, page, waited, rest = asyncio.run(leave_after_first_words())
    assert [out[2] for out in second] == [BUSY]
    assert waited < LEAVE_WAIT_S  # it returned once the answer stopped, not at its time limit
    assert all(out[3] == gr.skip() for out in rest)  # pieces that were on their way, never its state again
    assert page[0] == []  # the page shows a new conversation
    assert vr.engine.stats().aborted_total == before + 1
    assert vr.engine.stats().running == 0
    listed = [conversation_id for _, conversation_id in page[4]["choices"]]  # the list drawn after the wait
    assert listed == [c.id for c in store.for_user("local").list()]
    if leave == "new":
        [turn] = store.for_user("local").get(state.conversation.id).turns
        assert turn.stopped
        assert turn.answer
        assert turn.question == "Tell me a long story."
        assert listed == [state.conversation.id]
    else:
        assert listed == []

    # The page dropped that state: a question that still arrives on it is not run.
    finished = vr.engine.stats().finished_total
    assert collect(tab.submit(None, {"text": "Late?", "files": []}, state, "", vr.model_name, *rambling)) == []
    assert vr.engine.stats().finished_total == finished


async def _drain(handler) -> list[tuple]:
    return [out async for out in handler]


def test_grounding_draws_the_boxes_on_the_upload(demo):
    from vreason.reasoning.draw import PALETTE
    from vreason.ui.grounding_tab import GroundingTab

    outputs = collect(GroundingTab(demo.aio).find(str(SHAPES), "circle", "box", False, "auto", 256))
    assert outputs[0][3] == "⏳ Looking…"
    picture, rows, raw, status = outputs[-1]
    assert "found" in status
    assert rows
    assert all("circle" in row[0] for row in rows)  # the demo names it with its colour: "red circle"
    assert "bbox_2d" in raw
    assert picture.size == Image.open(SHAPES).size
    assert PALETTE[0] in {colour for _, colour in picture.convert("RGB").getcolors(maxcolors=1 << 20)}


def test_reasoning_runs_a_chain_and_tile_by_tile(demo):
    from vreason.ui.reasoning_tab import ReasoningTab

    tab = ReasoningTab(demo.aio)
    steps = "What color is the shape?\nIs the shape {step1}?"
    answer, rendered, _, trace, status = collect(tab.run(str(SHAPES), steps, False, 1, False, "auto", *GREEDY))[-1]
    assert answer.startswith("### Answer:")
    assert status.startswith("2 steps")
    assert trace["steps"][0]["answer"] == "red"
    assert trace["steps"][1]["prompt"] == "Is the shape red?"

    answer, rendered, _, trace, status = collect(
        tab.run(str(SHAPES), "What color is the shape?", False, 1, True, "2x2", *GREEDY))[-1]
    assert "red" in answer
    assert "Tiles: 2x2" in rendered
    assert status.startswith("1 steps")


def test_reasoning_step_headings_show_the_question_as_asked_with_earlier_answers_filled_in(demo):
    from vreason.ui.reasoning_tab import ReasoningTab

    tab = ReasoningTab(demo.aio)
    steps = "What color is the shape?\nIs the shape {previous}?\nIs the {step1} shape a circle?"
    for cot in (False, True):
        _, rendered, _, trace, _ = collect(tab.run(str(SHAPES), steps, cot, 1, False, "auto", *GREEDY))[-1]
        first = trace["steps"][0]["answer"]
        assert first
        headings = [line for line in rendered.splitlines() if line.startswith("#### ")]
        # the chain-of-thought request is part of the prompt (under "Prompt and raw output"), not of the question
        assert headings == ["#### Step 1: What color is the shape?", f"#### Step 2: Is the shape {first}?",
                            f"#### Step 3: Is the {first} shape a circle?"], cot


def test_a_task_pack_reads_its_answer_into_a_result(demo, tmp_path):
    from vreason.tasks import get_task
    from vreason.ui.tasks_tab import TasksTab

    get_task("inspection").make_samples(tmp_path, 1, 0)
    image = next((tmp_path / "images").iterdir())
    rendered, _, parsed, raw, status = collect(
        TasksTab(demo.aio).run("inspection", str(image), "", "", "", True, 96))[-1]
    assert rendered.startswith("### ")
    assert isinstance(parsed["defect"], bool)
    assert raw.startswith("{")
    assert "tokens" in status


def test_the_model_card_is_one_click_away_when_the_checkpoint_has_one(demo, vr):
    from vreason.ui import build_app

    def card_accordion(app):
        return next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == "model-card")

    assert card_accordion(build_app(demo, data_dir="unused")).visible
    texts = [b.value for b in build_app(demo, data_dir="unused").blocks.values()
             if "model-card-text" in (getattr(b, "elem_classes", None) or [])]
    assert texts[0].startswith("# vreason-demo")
    assert "## Quality" in texts[0]
    assert not card_accordion(build_app(vr, data_dir="unused")).visible  # a scratch checkpoint without README.md


def test_a_server_api_key_signs_in_while_listed_users_keep_their_own_passwords(demo):
    from vreason.engine.backends.balancer import normalize_upstream
    from vreason.server import ServerSettings, create_app
    from vreason.server.launch import BackgroundServer
    from vreason.ui.login import build_auth

    server = BackgroundServer(create_app(demo.engine, ServerSettings(api_key="k-123")))
    try:
        allowed = build_auth([("alice", "wonderland")], normalize_upstream(server.url))
        assert allowed("bob", "k-123")  # the server accepts the key: any name gets in
        assert not allowed("bob", "k-124")
        assert not allowed("bob", "")
        assert not allowed("alice", "k-123")  # a listed user signs in with her own password only
        assert allowed("alice", "wonderland")
    finally:
        server.stop()
    started = time.monotonic()
    assert not allowed("carol", "k-999")  # the server is gone: nobody new gets in, and quickly
    assert time.monotonic() - started < 5
    assert build_auth([("alice", "wonderland")]) == [("alice", "wonderland")]
    assert build_auth([]) is None


def test_a_video_upload_is_asked_about_shown_as_a_contact_sheet_and_kept_for_follow_ups(demo, tmp_path):
    from PIL import Image

    from tests.video_samples import make_clip
    from vreason.ui.chat_tab import ChatTab
    from vreason.ui.conversation_store import ConversationStore, to_json

    clip = make_clip(tmp_path / "clip.mp4", 64, 64, frames=20, fps=10)  # 2 s
    store = ConversationStore(tmp_path / "data")
    tab = ChatTab(demo.aio, store)
    outputs = collect(tab.submit(None, {"text": "What happens?", "files": [str(clip)]}, None, "", demo.model_name,
                                 *GREEDY))
    display, _, status, state = outputs[-1][:4]
    assert status == ""
    [turn] = state.conversation.turns
    [kept] = turn.videos
    assert turn.images == []
    assert turn.answer
    assert (tmp_path / "data" / ".videos" / kept.name).read_bytes() == clip.read_bytes()  # kept by content
    prepared = state.prepared[kept.name]
    assert prepared.num_frames == 4  # 2 frames a second, at least 4
    assert kept.caption == "4 frames sampled from clip.mp4 at 0.0–1.9 s"
    # The contact sheet shown before the question: one thumbnail per sampled frame, in one row.
    sheet_message = display[0]
    assert sheet_message["role"] == "user"
    assert sheet_message["content"]["alt_text"] == kept.caption
    sheet = Image.open(sheet_message["content"]["path"])
    assert sheet.width > sheet.height  # thumbnails side by side, times under them
    assert display[1]["content"] == f"What happens?\n\n<sub class=\"vr-clip\">Video: {kept.caption}</sub>"

    # A follow-up without an upload asks about the same decoded frames; the engine reuses what it computed.
    hits_before = demo.engine.stats().caches["prefix"].hits
    outputs = collect(tab.submit(None, {"text": "And then?", "files": []}, state, "", demo.model_name, *GREEDY))
    state = outputs[-1][3]
    assert [len(t.videos) for t in state.conversation.turns] == [1, 0]
    history = asyncio.run(tab._user_message(state, demo.aio, state.conversation.turns[0]))
    assert history.videos[0].source is prepared
    assert demo.engine.stats().caches["prefix"].hits > hits_before

    # Reopened in a new session (nothing decoded yet), the conversation still has its clip.
    reopened = store.for_user("local").get(state.conversation.id)
    assert reopened.turns[0].videos == [kept]
    exported = to_json(reopened, store)["messages"][0]["content"]  # what `vreason chat /load` reads
    assert exported[0]["video_url"]["url"].startswith("data:video/mp4;base64,")
    assert exported[-1] == {"type": "text", "text": "What happens?"}
    fresh = ChatTab(demo.aio, store)
    state2 = fresh.new_state(reopened)
    outputs = collect(fresh.submit(None, {"text": "What happens?", "files": []}, state2, "", demo.model_name,
                                   *GREEDY))
    assert outputs[-1][2] == ""
    assert state2.prepared[kept.name].num_frames == 4


def test_an_upload_that_is_neither_an_image_nor_a_video_is_refused_by_name(demo, tmp_path):
    from vreason.ui.chat_tab import ChatTab
    from vreason.ui.conversation_store import ConversationStore

    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))  # an MP4 header and nothing playable
    finished = demo.engine.stats().finished_total
    outputs = collect(ChatTab(demo.aio, ConversationStore(tmp_path / "data")).submit(
        None, {"text": "What happens?", "files": [str(fake)]}, None, "", demo.model_name, *GREEDY))
    [(display, _, status, state, *_)] = outputs
    assert status.startswith("⚠️ **File clip.mp4**: is not an image")
    assert "nor a video" in status
    assert "\n" not in status
    assert display == []
    assert state.conversation.turns == []
    assert demo.engine.stats().finished_total == finished
    assert not (tmp_path / "data").exists()


def test_the_3d_tab_finds_a_target_draws_the_views_and_writes_the_boxes_as_ply(demo, tmp_path):
    from vreason.spatial.readers import read_cloud
    from vreason.ui.spatial_tab import TABLE_HEADERS, SpatialTab

    scene = ROOT / "examples" / "scene_red_box.ply"
    tab = SpatialTab(demo.aio)
    pictures, rows, boxes, ply, answer, status = collect(tab.find(str(scene), "red box", ["bev", "front"]))[-1]
    assert [name for _, name in pictures] == ["bev", "front"]
    assert all(picture.width == 448 for picture, _ in pictures)  # the views as rendered (448 px wide by default)
    assert rows
    assert all(len(row) == len(TABLE_HEADERS) and row[0] == "red box" for row in rows)
    assert [b["label"] for b in boxes] == ["red box"] * len(rows)
    assert Path(ply).name == "scene_red_box-boxes.ply"
    assert len(read_cloud(ply)) == 8 * len(rows)  # a line set: 8 corners a box
    assert status.startswith(f"**{len(rows)} found**")

    pictures, rows, boxes, ply, answer, status = collect(tab.ask(str(scene), "How many objects are there?",
                                                                 ["bev"]))[-1]
    assert [name for _, name in pictures] == ["bev"]
    assert answer
    assert "tokens" in status
    assert (rows, boxes, ply) == ([], None, None)

    notes = tmp_path / "notes.xyz"
    notes.write_text("not a cloud\n")
    for args in ((str(notes), "red box", ["bev"]), (None, "red box", ["bev"]), (str(scene), "red box", [])):
        *_, status = collect(tab.find(*args))[-1]
        assert status.startswith("⚠️")
        assert "\n" not in status
        assert str(tmp_path) not in status  # the upload is named as the user knows it
