"""The one article rule the generated questions, descriptions and errors share (vreason/articles.py)."""

import pytest

from vreason.articles import indefinite_article, with_article
from vreason.live.triggers import trigger_question
from vreason.memory.describe import facts_description
from vreason.reasoning.video_when import presence_question


@pytest.mark.parametrize(
    ("phrase", "article"),
    [
        ("red circle", "a"), ("orange star", "an"), ("Apple", "an"), ("unicorn", "a"), ("European car", "a"),
        ("one-way sign", ""), ("useful tool", "a"), ("hour glass", "an"), ("honest answer", "an"), ("heron", "a"),
        ("image", "an"), ("video", "a"), ("the dog", ""), ("2 cats", ""), ("some cups", ""), ("  ", ""),
    ],
)
def test_the_article_follows_the_sound_not_the_letter(phrase, article):
    assert indefinite_article(phrase) == article


def test_with_article_keeps_a_phrase_that_has_its_own_determiner():
    assert with_article(" orange   star ") == "an orange star"
    assert with_article("the blue square") == "the blue square"
    assert with_article("") == ""


def test_every_runtime_wording_uses_the_same_rule():
    # before one owner: triggers asked "is there an unicorn?" and memory described "an unicorn"
    assert trigger_question("a unicorn appears") == ("is there a unicorn?", True)
    assert trigger_question("an hourglass shows up") == ("is there an hourglass?", True)
    assert presence_question("unicorn") == "is there a unicorn in the image?"
    assert facts_description({"color": "orange", "shape": "star"}) == "an orange star"
    assert facts_description({"color": "", "shape": "unicorn"}) == "a unicorn"


def test_a_directory_given_as_media_is_named_with_its_article(tmp_path):
    from vreason.errors import MediaError
    from vreason.media.local_files import checked_local_path
    from vreason.media.policy import MediaPolicy

    policy = MediaPolicy(allow_local_files=True)
    for kind, words in (("image", "not an image file"), ("video", "not a video file")):
        with pytest.raises(MediaError, match=words):
            checked_local_path(tmp_path, policy, "x", kind, 1 << 20)
