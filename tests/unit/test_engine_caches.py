"""Vision and prefix cache bookkeeping: byte budgets, LRU eviction, exact longest-prefix matching. No model."""

from __future__ import annotations

from vreason.engine.caches import ByteBudgetLRU, PrefixCache


def test_lru_evicts_least_recently_used_to_stay_under_budget():
    cache = ByteBudgetLRU(100)
    cache.put("a", 1, 40)
    cache.put("b", 2, 40)
    assert cache.get("a") == 1  # a is now most recent
    cache.put("c", 3, 40)  # over budget: b goes
    assert "b" not in cache
    assert "a" in cache
    assert "c" in cache
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.evictions, stats.bytes_used) == (1, 0, 1, 80)
    assert cache.get("b") is None
    assert cache.stats().misses == 1


def test_entry_bigger_than_the_budget_is_not_kept_and_evicts_nothing():
    cache = ByteBudgetLRU(100)
    cache.put("a", 1, 60)
    assert cache.put("huge", 2, 101) is False
    assert "a" in cache
    assert cache.bytes_used == 60


def test_prefix_lookup_finds_the_longest_exact_token_prefix():
    cache = PrefixCache(10_000)
    cache.insert([1, 2, 3, 4, 5], "five", 50)
    cache.insert([1, 2, 9], "other", 30)
    match = cache.lookup([1, 2, 3, 4, 7, 8], max_length=10)
    assert (match.length, match.payload) == (4, "five")
    assert cache.lookup([1, 2, 9, 9], max_length=10).payload == "other"
    assert cache.lookup([5, 5], max_length=10) is None
    assert cache.stats().hits == 2
    assert cache.stats().misses == 1


def test_prefix_lookup_is_capped_so_one_token_is_left_to_compute():
    cache = PrefixCache(10_000)
    cache.insert([1, 2, 3], "p", 10)
    assert cache.lookup([1, 2, 3], max_length=2).length == 2


def test_long_prefixes_match_across_chunk_boundaries():
    cache = PrefixCache(1 << 20)
    stored = list(range(1000))
    cache.insert(stored, "long", 100)
    query = stored[:700] + [-1] + stored[701:]
    assert cache.lookup(query, max_length=2000).length == 700


def test_image_keys_in_the_sequence_keep_different_images_apart():
    # image placeholders are replaced by -image_key: same text, different image -> match ends at the image
    cache = PrefixCache(10_000)
    cache.insert([10, 11, -7, -7, -7, 12, 13], "cat", 10)
    assert cache.lookup([10, 11, -8, -8, -8, 12, 13], max_length=10).length == 2
    assert cache.lookup([10, 11, -7, -7, -7, 12, 14], max_length=10).length == 6


def test_inserting_an_extension_drops_the_entry_it_extends():
    cache = PrefixCache(10_000)
    cache.insert([1, 2, 3], "turn1", 30)
    cache.insert([1, 2, 3, 4, 5], "turn2", 50)
    assert len(cache) == 1
    assert cache.stats().bytes_used == 50
    assert cache.lookup([1, 2, 3, 9], max_length=10).payload == "turn2"


def test_a_prefix_match_under_the_minimum_share_of_the_key_is_not_used():
    from vreason.engine.caches import PrefixCache

    cache = PrefixCache(1 << 20, min_share=1 / 3)
    cache.insert((1, 2, 3, 4, 5, 6, 7, 8), "kv", 64)
    assert cache.lookup((1, 2, 9, 9, 9, 9, 9, 9), 7) is None  # 2 of 8 tokens: under a third
    match = cache.lookup((1, 2, 3, 9, 9, 9, 9, 9), 7)
    assert match is not None
    assert match.length == 3
    assert cache.lookup((1, 2, 3, 9), 3).length == 3  # the share is of the key looked up
    assert (cache.stats().hits, cache.stats().misses) == (2, 1)
