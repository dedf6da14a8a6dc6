import random
from collections import Counter

import pytest

from tuning.data.sampling import normalize, priority, sample_distinct


def test_normalize():
    assert normalize("  Hello\u00a0  WORLD\n") == "hello world"
    assert normalize("ＡＢＣ") == "abc"  # full-width letters fold under NFKC
    assert normalize("Straße") == normalize("STRASSE")


def test_duplicates_counted_exactly_and_never_sampled_twice():
    items = ["a", "A", " a ", "b", "c", "B", "d", "e", "e", "f"]  # distinct: a b c d e f
    for k in (0, 1, 3, 6, 10):
        sample, stats = sample_distinct(items, k, seed=1)
        assert stats.seen == 10 and stats.distinct == 6 and stats.duplicates == 4
        assert len(sample) == min(k, 6) == stats.sampled
        assert len({normalize(s) for s in sample}) == len(sample)
    sample, _ = sample_distinct(items, 10, seed=1)
    assert {normalize(s) for s in sample} == set("abcdef")
    assert "a" in sample and "A" not in sample  # the first spelling seen is kept


def test_matches_brute_force_k_smallest_priorities():
    rng = random.Random(0)
    items = [f"sentence {rng.randrange(400)}" for _ in range(1000)]
    for seed in (0, 1, "x"):
        sample, stats = sample_distinct(items, 50, seed=seed)
        distinct = sorted(set(items), key=lambda s: priority((s,), seed))
        assert sample == distinct[:50]
        assert stats.distinct == len(set(items))
        # input order does not matter
        shuffled = items[:]
        rng.shuffle(shuffled)
        assert sample_distinct(shuffled, 50, seed=seed)[0] == sample


def test_uniform_over_distinct_items():
    # 10 distinct items, item "x0" present 6 times: each should be kept with probability 3/10.
    items = ["x0"] * 5 + [f"x{i}" for i in range(10)]
    hits = Counter()
    trials = 3000
    for seed in range(trials):
        hits.update(sample_distinct(items, 3, seed=seed)[0])
    for i in range(10):
        assert hits[f"x{i}"] / trials == pytest.approx(0.3, abs=0.04)  # binomial sd 0.008


def test_pairs_and_cheap_counting():
    pairs = [("Open", "打开"), ("open ", "打开"), ("Open", "開啟"), ("Close", "关闭")]
    sample, stats = sample_distinct(pairs, 10, seed=3, parts=lambda p: p)
    assert stats.distinct == 3 and len(sample) == 3
    _, cheap = sample_distinct(pairs, 10, seed=3, parts=lambda p: p, count_distinct=False)
    assert cheap.distinct == 3  # exact when everything fits in the sample
    with pytest.raises(ValueError):
        sample_distinct(pairs, -1, seed=0)


def test_packed_pairs_round_trip_and_same_sample():
    from tuning.data.readers import Pair, PairPacker

    pairs = [Pair(f"sentence {i} \x1f\x00 end", f"句子 {i} ✓", f"file{i % 3}.tsv") for i in range(300)]
    packer = PairPacker()
    assert [packer.unpack(packer.pack(p)) for p in pairs] == pairs
    plain, _ = sample_distinct(pairs, 40, seed=5, parts=lambda p: (p.en, p.xx))
    packed, _ = sample_distinct(pairs, 40, seed=5, parts=lambda p: (p.en, p.xx), pack=packer.pack,
                                unpack=packer.unpack)
    assert packed == plain


def test_many_compactions_match_brute_force():
    # k = 5 buffers up to 1029 candidates: 20k items force many threshold updates
    items = [f"item {i % 7000}" for i in range(20000)]
    sample, stats = sample_distinct(items, 5, seed=11)
    assert sample == sorted(set(items), key=lambda s: priority((s,), 11))[:5]
    assert stats.distinct == 7000 and stats.duplicates == 13000
    _, cheap = sample_distinct(items, 5, seed=11, count_distinct=False)
    assert cheap.distinct is None and cheap.sampled == 5
