"""Issue 26: a plan that rounds to uniform's whole pairs trains the same mixture twice; the report
says so instead of reporting a 0.000 gain as if it were a finding."""

from tuning.study.report_tables import same_mixture_note


def _rec(kind, seed, sizes):
    return {"kind": kind, "run": f"multi-{kind}-s{seed}", "seed": seed, "sizes": sizes}


def test_the_same_whole_pairs_are_named():
    records = [_rec("optimized", 1, {"el": 24, "tr": 24}), _rec("uniform", 1, {"el": 24, "tr": 24}),
               _rec("pilot", 1, {"el": 8})]
    note = same_mixture_note(records)
    assert note == ("The optimised plan comes to uniform's whole pairs (el 24, tr 24; seed 1): both models were "
                    "trained on the same mixture, so their difference says nothing about the plan.")


def test_different_plans_or_a_missing_model_say_nothing():
    assert same_mixture_note([_rec("optimized", 1, {"el": 23, "tr": 25}), _rec("uniform", 1, {"el": 24, "tr": 24})]) is None
    assert same_mixture_note([_rec("optimized", 1, {"el": 24, "tr": 24})]) is None
    # the same sizes at another seed only are not the same model pair
    assert same_mixture_note([_rec("optimized", 1, {"el": 24}), _rec("uniform", 2, {"el": 24})]) is None
