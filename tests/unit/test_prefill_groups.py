"""How the batching runner cuts a prefill into forward passes (engine/batch_runner._groups): consecutive slices,
every item in exactly one, each slice within the bound unless it holds a single item over it."""

from __future__ import annotations

from vreason.engine.batch_runner import _groups


def test_padded_slices_stay_within_rows_times_longest():
    sizes = [4, 10, 80, 300, 300, 790, 790]  # sorted prompt lengths, as the runner passes them
    groups = _groups(sizes, 1000)
    assert groups == [(0, 3), (3, 5), (5, 6), (6, 7)]
    for begin, end in groups:
        assert (end - begin) * max(sizes[begin:end]) <= 1000 or end - begin == 1


def test_plain_sums_and_oversized_items_alone():
    assert _groups([3072, 3072, 1200, 300, 9000, 12], 8192, padded=False) == [(0, 4), (4, 5), (5, 6)]
    assert _groups([5, 5, 5], 1) == [(0, 1), (1, 2), (2, 3)]
    assert _groups([], 10) == []
