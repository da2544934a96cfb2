"""Which merged visual token shows which object: the targets of the vision warm-up."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from vreason.train.vision_warmup import token_instances, token_positions


def test_tokens_belong_to_the_object_covering_most_of_their_cell():
    instances = Image.new("L", (128, 64), 0)
    draw = ImageDraw.Draw(instances)
    draw.rectangle((0, 0, 63, 31), fill=1)  # object 1: the two top-left cells exactly
    draw.rectangle((70, 40, 75, 45), fill=2)  # object 2: 36 pixels in cell (row 1, col 2): under 15% of 1024
    owner, members = token_instances(instances, (128, 64), cell=32, min_coverage=0.15)
    assert owner.reshape(2, 4).tolist() == [[1, 1, 0, 0], [0, 0, 0, 0]]  # row-major, like the tower's output
    assert members[1].tolist() == [0, 1]
    assert members[2].tolist() == [6]  # too small to own its cell, still pooled from its best-covered token


def test_targets_follow_the_picture_as_the_model_sees_it():
    instances = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(instances).rectangle((32, 32, 63, 63), fill=3)  # bottom-right quarter
    owner, members = token_instances(instances, (256, 256), cell=32, min_coverage=0.15)  # upscaled 4x: 8x8 tokens
    grid = owner.reshape(8, 8)
    assert (grid[4:, 4:] == 3).all()
    assert (grid[:4] == 0).all()
    assert (grid[:, :4] == 0).all()
    assert sorted(members) == [3]
    assert len(members[3]) == 16
    assert np.array_equal(np.sort(members[3]), np.flatnonzero(owner == 3))


def test_position_targets_are_bands_of_the_picture_row_major():
    row, column = token_positions((128, 64), cell=32, bins=2)  # 2 rows x 4 columns of tokens
    assert row.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert column.tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    row, column = token_positions((256, 256), cell=32, bins=8)
    assert row.reshape(8, 8)[:, 0].tolist() == list(range(8))
    assert column.reshape(8, 8)[0].tolist() == list(range(8))
