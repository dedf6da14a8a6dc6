"""The study as a graph of jobs: what each job makes, what it needs, and when it is done.

A job is done when its output exists: ``runs/<id>.json`` for a trained or scored model, the
held-out files, the frozen plans. Every output is written atomically (a temporary file renamed
into place) and is the last thing its job writes, so a job killed at any point, ``kill -9``
included, leaves no output and is run again from the start by the next ``run``. The graph is
fixed by the study file alone: a model trained on a plan reads the plan's sizes when it runs.

Jobs and their outputs (R = the results folder, W = the work folder)::

    prepare              W/models/base/config.json    the base model (GGUF converted, hub model saved)
    heldout-<lang>       R/heldout/<lang>.jsonl        the held-out set (and its .tsv)
    base                 R/runs/base.json              the untrained model's scores
    pilot-<lang>-<size>-s<seed>   R/runs/<id>.json     one-language models (the ladder)
    plan                 R/plan.json                   laws of the first seed's pilots and the plans
    multi-<plan>-s<seed> R/runs/<id>.json              a multilingual model on a frozen plan
    extrap-<lang>-<size>-s<seed>                       extrapolation models (one language, 2-4x the ladder)
    xfer-loo-*           R/runs/<id>.json              leave-one-language-out models: they pin transfer
    transfer-plan        R/plan_transfer.json          the plan on the transfer-aware law of the above
    multi-transfer-s<seed>                             its models (and uniform's at the same seeds), NLL only
    rep-*, xfer-rand-*   R/runs/<id>.json              repetition and random-split models: they refine
                                                       the reported law (R*, larger mixtures), not the plan
    report               W/report.sha256               refit, results.csv, summary.md, figures; done while
                                                       the digest of what it read is unchanged
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

#: stages in order: a job's stage decides its priority and what ``run --until`` runs
STAGES = ("heldout", "base", "pilots", "plan", "multilingual", "extrapolation", "baselines", "transfer-pilots",
          "transfer-plan", "transfer-refine", "report")
#: kinds of job, each with its own SLURM resources (study file ``resources:``)
KINDS = ("prepare", "heldout", "base", "pilot", "plan", "multilingual", "extrapolation", "transfer", "repetition",
         "report")


@dataclasses.dataclass(frozen=True)
class Job:
    id: str
    kind: str  # one of KINDS
    stage: str  # one of STAGES
    output: str | None  # "results:<rel>" or "work:<rel>"; None: runs every time (the report)
    needs: tuple[str, ...] = ()
    params: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Job":
        return cls(**{**data, "needs": tuple(data["needs"])})


def output_path(study, job: Job) -> Path | None:
    if job.output is None:
        return None
    root, _, rel = job.output.partition(":")
    return (study.results if root == "results" else study.work) / rel


def is_done(study, job: Job) -> bool:
    if job.kind == "report":
        return report_is_current(study)
    path = output_path(study, job)
    return path is not None and path.is_file()


#: the report's stamp (work folder): the digest of what the last report was made from
REPORT_STAMP = "report.sha256"
_REPORT_INPUTS = ("runs/*.json", "heldout/*.jsonl", "plan*.json", "laws_plan*.json", "available.json",
                  "alignment.csv", "predicted_before_training.csv")


def report_digest(study) -> str:
    """sha256 of every file the report reads (names and bytes) and the study's report settings:
    the report is current when its stamp holds this digest and its tables exist."""
    import hashlib
    import json

    h = hashlib.sha256()
    h.update(json.dumps([study.report, study.budget, study.transfer.stage1 if study.transfer else None],
                        sort_keys=True).encode())
    for pattern in _REPORT_INPUTS:
        for path in sorted(study.results.glob(pattern)):
            h.update(f"\0{path.relative_to(study.results)}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def report_is_current(study) -> bool:
    stamp = study.work / REPORT_STAMP
    if not (stamp.is_file() and (study.results / "summary.md").is_file() and (study.results / "results.csv").is_file()):
        return False
    return stamp.read_text(encoding="utf-8").strip() == report_digest(study)


def base_model_dir(study) -> Path:
    """The base model's directory: the study's model itself, or W/models/base when prepared."""
    model = Path(study.model)
    if not study.model.endswith(".gguf") and (model / "config.json").is_file():
        return model
    return study.work / "models" / "base"


def round_sizes(sizes: dict, budget: int) -> dict[str, int]:
    """Whole pairs summing to the budget (largest remainders), at least 1 each."""
    sizes = {str(k): float(v) for k, v in dict(sizes).items()}
    floor = {k: max(1, int(math.floor(v))) for k, v in sizes.items()}
    rest = budget - sum(floor.values())
    for k in sorted(sizes, key=lambda k: -(sizes[k] - math.floor(sizes[k])))[:max(0, rest)]:
        floor[k] += 1
    return floor


def random_split(languages, budget: int, seed: int, concentration: float = 1.0) -> dict[str, int]:
    """Dirichlet(concentration) shares of ``budget`` whole pairs (at least 1 each), from a seeded
    generator: the random mixtures of the transfer design, the same on every machine. 1 draws
    uniformly over all splits (lopsided ones included); a larger concentration draws near the
    even split, where plans usually are (share sd sqrt((n-1)/(n^2 (n a + 1))) for n languages)."""
    import numpy as np

    # the concentration joins the seed only when it is not 1: the Dirichlet(1) splits of earlier
    # studies keep their sizes
    key = [budget, seed, 16] + ([] if concentration == 1 else [int(round(concentration * 1000))])
    rng = np.random.default_rng(key)
    shares = rng.dirichlet(np.full(len(languages), float(concentration)))
    return round_sizes(dict(zip(languages, shares * budget)), budget)


def build_jobs(study) -> list[Job]:
    """Every job of the study, in the order one worker runs them (the headline comparison first:
    the first seed's ladder, the plans, the optimised and uniform models at every seed; then the
    pilots' other seeds, extrapolation, the other baselines, the transfer pilots and plan)."""
    graph = _Graph(study)
    langs, first, others = study.codes, graph.first, graph.others
    graph.run("base", "base", "base", eval_langs=list(langs))
    ladder = graph.pilots(first, "pilots")
    graph.jobs.append(Job("plan", "plan", "plan", "results:plan.json", tuple(ladder)))
    headline = ("optimized", "uniform")
    graph.multilingual(headline, "multilingual")
    second = [pid for seed in others for pid in graph.pilots(seed, "multilingual")]
    top = max(study.pilot_sizes)
    extrap = [graph.run(f"extrap-{lang}-{f * top:05d}-s{first}", "extrapolation", "extrapolation",
                        sizes={lang: f * top}, seed=first, eval_langs=[lang])
              for lang in study.extrapolate for f in study.extrapolate_factors]
    graph.multilingual([n for n in study.plans if n not in headline], "baselines")
    if study.transfer is not None:
        _transfer_jobs(graph, ["plan"] + ladder + second + extrap)
    jobs = graph.jobs
    jobs.append(Job("report", "report", "report", None, tuple(j.id for j in jobs if j.kind != "prepare")))
    return jobs


class _Graph:
    """The jobs of ``build_jobs`` as they are added: the base model's preparation and the held-out
    sets first, which every model job needs (``inputs``)."""

    def __init__(self, study):
        self.study, self.jobs = study, []
        self.first, *self.others = study.seeds
        prep = ()
        if base_model_dir(study) != Path(study.model):
            self.jobs.append(Job("prepare", "prepare", "heldout", "work:models/base/config.json"))
            prep = ("prepare",)
        held = tuple(f"heldout-{lang}" for lang in study.codes)
        for lang in study.codes:
            self.jobs.append(Job(f"heldout-{lang}", "heldout", "heldout", f"results:heldout/{lang}.jsonl", (),
                                 {"language": lang}))
        self.inputs = prep + held

    def run(self, run_id, kind, stage, needs=None, **params) -> str:
        """A model job (trained or scored): its record ``runs/<run_id>.json``."""
        needs = self.inputs if needs is None else needs
        self.jobs.append(Job(run_id, "multilingual" if kind in ("optimized", "uniform", "proportional", "transfer-plan") else kind,
                             stage, f"results:runs/{run_id}.json", tuple(needs), {"record_kind": kind, **params}))
        return run_id

    def pilots(self, seed, stage) -> list[str]:
        """The ladder of one-language pilots at ``seed`` (the other seeds at the seed sizes only)."""
        study, ids = self.study, []
        for size in study.pilot_sizes:
            if seed != self.first and size not in study.seed_sizes:
                continue
            for lang in study.codes:
                ids.append(self.run(f"pilot-{lang}-{size:05d}-s{seed}", "pilot", stage, sizes={lang: size},
                                    seed=seed, eval_langs=[lang]))
        return ids

    def multilingual(self, names, stage) -> None:
        """The multilingual models of the plans ``names``, at each of their seeds."""
        study = self.study
        for seed in study.seeds:
            for name in [n for n in study.plans if n in names]:
                if seed in study.plans[name]:
                    self.run(f"multi-{name}-s{seed}", name, stage, self.inputs + ("plan",), plan=name,
                             sizes_from=name, seed=seed, eval_langs=list(study.codes),
                             align=(name == "optimized" and seed == self.first))


def _transfer_jobs(graph: _Graph, one_language: list[str]) -> None:
    """The study's ``transfer`` block: the leave-one-out models, the transfer-aware plan (after
    ``one_language``, the plan and the one-language models) and its models, then the repetition
    and random-split models that refine the reported law."""
    study, t, run = graph.study, graph.study.transfer, graph.run
    langs, first = study.codes, graph.first
    loo = []
    for left in langs:
        share = t.loo_budget // (len(langs) - 1) if len(langs) > 1 else 0
        sizes = {x: 0 if x == left else share for x in langs}
        loo.append(run(f"xfer-loo-{left}-{sum(sizes.values()):05d}-s{first}", "transfer", "transfer-pilots",
                       sizes=sizes, seed=first, eval_langs=list(langs), generate_n=0, design="leave-one-out"))
    # the plan needs the one-language models and the leave-one-out design (which pins each
    # language's transfer weight); its models train next, then the refining pilots
    graph.jobs.append(Job("transfer-plan", "plan", "transfer-plan", "results:plan_transfer.json",
                          tuple(one_language + loo)))
    uniform_seeds = study.plans.get("uniform", ())
    for seed in t.plan_seeds:
        run(f"multi-transfer-s{seed}", "transfer-plan", "transfer-plan", graph.inputs + ("transfer-plan",),
            plan="transfer", sizes_from="transfer", seed=seed, eval_langs=list(langs), generate_n=0)
        if seed not in uniform_seeds:  # uniform at the same seeds: the paired comparison
            even = round_sizes({lang: study.budget / len(langs) for lang in langs}, study.budget)
            run(f"multi-uniform-s{seed}", "uniform", "transfer-plan", plan="uniform", sizes=even, seed=seed,
                eval_langs=list(langs), generate_n=0)

    def distinct(lang):
        for n in t.repeat_distinct:
            run(f"rep-{lang}-{n:05d}x1-s{first}", "repetition", "transfer-refine", sizes={lang: n},
                seed=first, eval_langs=[lang], generate_n=0)

    for lang in t.repeat_languages:
        for epochs in t.repeat_epochs:
            run(f"rep-{lang}-{t.repeat_unique:05d}x{epochs}-s{first}", "repetition", "transfer-refine",
                sizes={lang: t.repeat_unique}, seed=first, eval_langs=[lang], epochs=epochs, generate_n=0)
        distinct(lang)
    for lang in t.distinct_languages:  # the distinct-pairs models only: a law pinned beyond its pilots
        distinct(lang)
    for budget, seed, alpha in t.random:
        tag = "" if alpha == 1 else f"a{alpha:g}-"
        run(f"xfer-rand-{budget:05d}-{tag}s{seed}", "transfer", "transfer-refine",
            sizes=random_split(langs, budget, seed, alpha), seed=seed, eval_langs=list(langs), generate_n=0,
            design="random split")


def select(study, jobs: list[Job], until: str | None = None) -> list[Job]:
    """The jobs a ``run`` must do: every job of the stages up to ``until`` not done yet, and the
    jobs they need that are not done (the base model is prepared only when something trains)."""
    rank = {s: i for i, s in enumerate(STAGES)}
    last = rank[until] if until else len(STAGES)
    by_id = {j.id: j for j in jobs}
    wanted: set[str] = set()
    stack = [j.id for j in jobs if rank[j.stage] <= last and j.kind != "prepare" and not is_done(study, j)]
    while stack:
        jid = stack.pop()
        if jid in wanted:
            continue
        wanted.add(jid)
        stack += [n for n in by_id[jid].needs if not is_done(study, by_id[n])]
    if wanted and "report" in by_id and rank["report"] <= last:
        wanted.add("report")  # current now, stale once the jobs of this run are recorded
    return [j for j in jobs if j.id in wanted]
