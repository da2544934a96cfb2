"""The web UI's pieces that need no model or browser: the conversation store (per-user folders, ids checked
before they become paths, images once by content, exports), safe Markdown, the demo banner read from the
model card, and `vreason ui`'s login options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vreason.errors import InvalidRequestError
from vreason.ui.chat_view import safe_markdown
from vreason.ui.conversation_store import Conversation, ConversationStore, Turn, to_json, to_markdown
from vreason.ui.model_card import demo_banner, quality_table

ROOT = Path(__file__).resolve().parents[2]
SHAPES = ROOT / "examples" / "shapes.png"
DEMO_CARD = ROOT / "src" / "vreason" / "assets" / "demo-model" / "README.md"


def _conversation(store: ConversationStore, question: str = "What color is the shape?") -> Conversation:
    return Conversation(title=question, model="vreason-demo",
                        turns=[Turn(question, [store.add_image(SHAPES)], "red", stats="2 tokens · 0.1 s")])


def test_each_user_sees_only_their_own_conversations(tmp_path):
    store = ConversationStore(tmp_path)
    alice, bob = store.for_user("alice"), store.for_user("bob")
    mine = _conversation(store)
    alice.save(mine)
    assert [c.id for c in alice.list()] == [mine.id]
    assert bob.list() == []
    with pytest.raises(InvalidRequestError, match="no conversation"):
        bob.get(mine.id)
    bob.delete(mine.id)  # deleting "it" as Bob removes nothing of Alice's
    assert alice.get(mine.id).turns[0].answer == "red"


@pytest.mark.parametrize("user", ["../alice", ".images", "a/b", "", "ålice"])
def test_a_user_name_never_reaches_another_folder(tmp_path, user):
    store = ConversationStore(tmp_path)
    folder = store.for_user(user).folder
    assert folder.parent == store.root
    assert folder.name not in ("alice", ".images", "..", ".")


@pytest.mark.parametrize("bad", ["../x", "0" * 31, "G" * 32, "/etc/passwd", ""])
def test_conversation_ids_are_checked_before_they_become_paths(tmp_path, bad):
    with pytest.raises(InvalidRequestError, match="not a conversation id"):
        ConversationStore(tmp_path).for_user("local").get(bad)


def test_images_are_kept_once_by_content_and_rename_delete_work(tmp_path):
    store = ConversationStore(tmp_path)
    first, second = _conversation(store), _conversation(store, "Is it red?")
    assert first.turns[0].images == second.turns[0].images
    assert len(list(store.images.iterdir())) == 1
    user = store.for_user(None)  # no login: "local"
    user.save(first)
    user.save(second)
    assert [c.id for c in user.list()] == [second.id, first.id]  # the newest change first
    assert user.rename(first.id, "  Shapes\n and colours ").title == "Shapes and colours"
    assert user.list()[0].id == first.id
    with pytest.raises(InvalidRequestError, match="cannot be empty"):
        user.rename(first.id, "   ")
    user.delete(second.id)
    assert [c.title for c in user.list()] == ["Shapes and colours"]
    saved = json.loads((tmp_path / "local" / f"{first.id}.json").read_text())
    assert "base64" not in json.dumps(saved)  # images are files, not inlined per message


def test_exports_markdown_and_the_json_vreason_chat_loads(tmp_path):
    store = ConversationStore(tmp_path)
    conversation = _conversation(store)
    markdown = to_markdown(conversation)
    assert markdown.startswith("# What color is the shape?")
    assert "## User" in markdown
    assert "red" in markdown
    exported = to_json(conversation, store)
    assert exported["format"] == "vreason-chat"
    user, assistant = exported["messages"]
    assert user["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert assistant["content"] == [{"type": "text", "text": "red"}]


def test_markdown_renders_but_html_outside_code_is_shown_as_text():
    text = "**bold** <img src=x onerror=alert(1)> & `<b>` \n```html\n<script>x</script>\n```"
    safe = safe_markdown(text)
    assert "<img" not in safe
    assert "&lt;img src=x onerror=alert(1)> &amp;" in safe
    assert safe_markdown("> quoted") == "> quoted"  # a blockquote stays one
    assert "`<b>`" in safe  # code keeps its characters: Markdown shows them literally
    assert "<script>x</script>" in safe.split("```html")[1]
    assert safe_markdown("```py\nif a < b:") == "```py\nif a < b:"  # an unclosed fence while streaming


def test_the_demo_banner_quotes_the_model_cards_numbers():
    card = DEMO_CARD.read_text()
    rows = quality_table(card)
    assert {"color", "count", "position", "grounding", "reading", "easy_vqa"} <= set(rows)
    banner = demo_banner(card)
    count, position, grounding = rows["count"][1], rows["position"][1], rows["grounding"][2]
    # one decimal, a whole number without it (92%, not 92.0%)
    assert f"counting {count * 100:.1f}%".replace(".0%", "%") in banner
    assert f"positions {position * 100:.1f}%".replace(".0%", "%") in banner
    assert f"boxes {grounding * 100:.1f}%".replace(".0%", "%") + " at IoU" in banner
    assert "poorly" not in banner
    assert "demo model" in demo_banner(None)  # a card without a table still gets the warning


def test_login_options_read_pairs_and_a_file_and_refuse_malformed_ones(tmp_path):
    from vreason.cli.ui import is_loopback, read_logins

    logins = tmp_path / "logins"
    logins.write_text("# team\nbob:builder\n\ncarol:pa:ss\n")
    assert read_logins(["alice:wonderland"], logins) == [("alice", "wonderland"), ("bob", "builder"),
                                                          ("carol", "pa:ss")]
    with pytest.raises(InvalidRequestError, match="--auth 'alice'"):
        read_logins(["alice"], None)
    logins.write_text("dave:\n")
    with pytest.raises(InvalidRequestError, match=f"{logins}:1"):
        read_logins([], logins)
    with pytest.raises(InvalidRequestError, match="No such file"):
        read_logins([], tmp_path / "missing")
    assert [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "example.org")] == [
        True, True, True, False, False]


def test_the_demo_banner_of_a_model_with_clips_quotes_them():
    card = "\n".join(["| count | 200 | 0.950 | - | x |", "| independent/grounding | 400 | 0.000 | 0.870 | x |",
                      "| clip_move | 100 | 0.930 | - | x |", "| clip_when | 100 | 0.610 | 0.880 | x |",
                      "| clip_appear | 100 | 0.100 | - | x |",
                      "| varied/describe | 100 | 0.900 | - | x |"])
    banner = demo_banner(card)
    assert "shapes in ten colours and short clips of them" in banner
    assert "which way a shape moves 93%" in banner
    assert "when (within a second) 88%" in banner
    assert "boxes on pictures drawn another way 87% at IoU ≥ 0.5" in banner
    assert "what appears in a clip" not in banner  # that family is not learned yet
    assert "Photos, documents and open questions get confident but meaningless answers" in banner


def test_the_demo_banner_says_clips_are_not_learned_while_they_are_not():
    card = "\n".join(["| count | 200 | 0.950 | - | x |", "| clip_move | 50 | 0.000 | - | x |",
                      "| clip_when | 50 | 0.000 | 0.000 | x |", "| varied/describe | 100 | 0.000 | - | x |"])
    banner = demo_banner(card)
    assert "trained only on flat shapes in ten colours" in banner  # a varied row alone says nothing of training
    second = card + "\n- Then the second stage (`vreason.train.demo_v2`), from the settled model: ..."
    assert "trained only on shapes in ten colours." in demo_banner(second)  # the varied pictures: not only flat
    assert "It does not understand clips yet." in banner
    assert "which way a shape moves" not in banner
    partly = demo_banner(card + "\n| clip_appear | 50 | 0.560 | - | x |\n| clip_count | 100 | 0.910 | - | x |")
    assert "what appears in a clip 56%, how many shapes appear in a clip 91%." in partly
    assert "It does not yet tell which way a shape moves in a clip (0%)." in partly
    assert "It does not understand clips yet." not in partly
    assert "describing a picture" not in banner
    assert "Photos, documents and open questions get confident but meaningless answers" in banner


def test_the_demo_banner_quotes_when_by_its_within_a_second_share_and_what_disappears():
    card = "\n".join(["| clip_move | 100 | 0.710 | - | x |", "| clip_when | 100 | 0.260 | 0.670 | x |",
                      "| clip_disappear | 100 | 0.610 | - | x |"])
    banner = demo_banner(card)
    assert "when (within a second) 67%" in banner  # 26% exact, but the bar is within a second
    assert "what disappears from a clip 61%" in banner
    assert "when (within a second)" not in demo_banner(card.replace("0.670", "0.400"))
