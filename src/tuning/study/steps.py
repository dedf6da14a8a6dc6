"""The study's jobs that train nothing: base model, held-out sets, laws and plans, the refit.

Files (R = results folder): ``heldout/<lang>.tsv`` then ``heldout/<lang>.jsonl`` (the job's
output, written last); the plan job writes ``pilots_plan.csv``, ``laws_plan.json``,
``laws_plan_chrf.json``, ``plan_uniform.json``, ``plan_proportional.json``,
``plan_<other metric>_laws.json``, ``available.json`` and last ``plan.json``; the transfer plan
job ``pilots_transfer_plan.csv``, ``laws_transfer_plan.json``, ``plan_transfer_uniform.json``
and last ``plan_transfer.json``. Plans are made once and frozen: a later refit (``laws.json``,
from every pilot, in the report) never changes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from pathlib import Path

import budgetlaw as bl
from budgetlaw.fileio import atomic_write
from tuning.convert import gguf_to_model
from tuning.data.readers import open_pairs
from tuning.data.sampling import normalize
from tuning.errors import InputError
from tuning.prompts import translation_instruction
from tuning.study.graph import round_sizes
from tuning.study.records import read_records
from tuning.study.runs import write_json, write_jsonl

log = logging.getLogger("tuning.study")

_PLACEHOLDER = set("%{}<>\\_&|$=[]")


def prepare(study, job) -> None:
    """The base model directory: a GGUF converted, or a hub model saved, into W/models/base."""
    out = study.work / "models" / "base"
    tmp = out.with_name(f"base.tmp{int(time.time())}")
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob("base.tmp*"):
        shutil.rmtree(stale, ignore_errors=True)  # what a killed preparation left
    if study.model.endswith(".gguf"):
        gguf_to_model(study.model, tmp)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        AutoTokenizer.from_pretrained(study.model).save_pretrained(tmp)
        AutoModelForCausalLM.from_pretrained(study.model).save_pretrained(tmp)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)  # config.json, the job's output, appears with the whole directory


def _usable(en: str, xx: str) -> bool:
    words = en.split()
    return (3 <= len(words) <= 12 and 15 <= len(en) <= 80 and en[0].isalpha() and "\n" not in xx
            and "\n" not in en and not (_PLACEHOLDER & set(en)) and not (_PLACEHOLDER & set(xx))
            and xx.strip() == xx and len(xx) >= 2)


def read_heldout_file(path, where: str) -> list[tuple[str, str]]:
    """The pairs of a held-out file: ``.tsv`` (English TAB translation per line) or ``.jsonl``
    (``input``, ``reference``). InputError naming ``where`` (the study key) and the line when the
    file is empty, a line is torn (no tab, an empty side: a file cut short) or not a record."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where}: {path} is not UTF-8 text; convert it to UTF-8") from None
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if path.name.lower().endswith(".jsonl"):
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            ok = isinstance(row, dict) and all(isinstance(row.get(k), str) and row[k].strip()
                                               for k in ("input", "reference"))
            if not ok:
                raise InputError(f"{where}: {path}, line {number}: not a JSON object with non-empty 'input' and "
                                 "'reference' strings (a torn or edited line); fix or remove it")
            pairs.append((row["input"], row["reference"]))
        else:
            parts = line.split("\t")
            if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
                raise InputError(f"{where}: {path}, line {number}: {line[:40]!r} is not English<TAB>translation "
                                 "(a torn or edited line); fix or remove it")
            pairs.append((parts[0], parts[1]))
    if not pairs:
        raise InputError(f"{where}: {path} holds no held-out pairs; give a file of English<TAB>translation lines "
                         "(.tsv) or input/reference records (.jsonl), or heldout: N to draw N from the corpus")
    return pairs


def draw_heldout(spec, pairs) -> list[tuple[str, str]]:
    """``heldout: N``: N of ``pairs`` (the language's corpus) whose English has one translation
    in it, 3-12 words, no placeholders or markup, picked by a hash of the normalised English."""
    seen: dict[str, set[str]] = {}
    first: dict[str, tuple[str, str]] = {}
    for en, xx in pairs:
        key = normalize(en)
        seen.setdefault(key, set()).add(normalize(xx))
        first.setdefault(key, (en, xx))
    keys = [k for k, v in seen.items() if len(v) == 1 and _usable(*first[k])]
    keys.sort(key=lambda k: hashlib.sha256(f"heldout:{spec.code}:{k}".encode()).hexdigest())
    out = [first[k] for k in keys[:spec.heldout]]
    if len(out) < spec.heldout:
        raise InputError(f"heldout {spec.heldout}: only {len(out)} usable held-out messages of {spec.code} in "
                         f"{spec.parallel}; lower heldout or give a held-out file")
    return out


def heldout_pairs(spec, corpus=None) -> list[tuple[str, str]]:
    """The held-out pairs of the study's language ``spec`` (drawn from ``corpus``, its pairs as
    (en, xx), read here when None; or read from its file)."""
    if isinstance(spec.heldout, int):
        if corpus is None:
            corpus = ((p.en, p.xx) for p in open_pairs(spec.parallel, spec.code).pairs())
        return draw_heldout(spec, corpus)
    return read_heldout_file(spec.heldout, f"languages.{spec.code}.heldout")


def heldout(study, job) -> None:
    """``heldout: N``: N messages of the language's corpus (draw_heldout); ``heldout: FILE``:
    the pairs of a .tsv (English<TAB>translation) or .jsonl (input, reference)."""
    lang = job.params["language"]
    spec = study.language(lang)
    out = study.results / "heldout"
    out.mkdir(parents=True, exist_ok=True)
    pairs = heldout_pairs(spec)
    instruction = translation_instruction("en", lang)
    rows = [{"id": f"{lang}-{i:03d}", "language": lang, "instruction": instruction, "input": en, "reference": xx,
             "source": en} for i, (en, xx) in enumerate(pairs)]

    with atomic_write(out / f"{lang}.tsv") as fh:
        for r in rows:
            fh.write(f"{r['input']}\t{r['reference']}\n")
    write_jsonl(out / f"{lang}.jsonl", rows)


def records(study) -> list[dict]:
    """Every record of the study, checked by the one reader (tuning.study.records)."""
    return read_records(study.results, study.codes)


def pilots_frame(study, seeds=None):
    import pandas as pd

    rows = []
    for r in records(study):
        if r["kind"] == "pilot" and (seeds is None or r["seed"] in seeds):
            for lang, sc in r["scores"].items():
                for metric in ("nll", "chrf", "bleu"):
                    rows.append({"language": lang, "size": r["sizes"][lang], "score": round(sc[metric], 6),
                                 "seed": r["seed"], "metric": metric})
    return pd.DataFrame(rows).sort_values(["metric", "language", "size", "seed"]).reset_index(drop=True)


def plan(study, job) -> None:
    """Laws from the first seed's ladder and the plans made from them, written once: the
    multilingual models are trained on these plans, so a later refit never changes them."""
    t = time.perf_counter()
    pilots = pilots_frame(study, seeds=(study.seeds[0],))
    pilots.to_csv(study.results / "pilots_plan.csv", index=False, lineterminator="\n")
    laws = {
        "nll": bl.fit(pilots, metric="nll", lower_is_better=True, seed=0),
        "chrf": bl.fit(pilots, metric="chrf", free_ceiling=True, max_score=100.0, seed=0),
    }
    laws["nll"].save(study.results / "laws_plan.json")
    laws["chrf"].save(study.results / "laws_plan_chrf.json")
    available = {}
    for r in records(study):
        for lang, n in r.get("available_pairs", {}).items():
            available[lang] = max(available.get(lang, 0), n)
    plans = {}
    for metric, lawset in laws.items():
        plans[metric] = {
            "optimized": bl.allocate(lawset, study.budget, available=available, objective=study.objective),
            "uniform": bl.baselines.uniform(lawset, study.budget, available=available),
            "proportional": bl.baselines.proportional(lawset, study.budget, available=available),
        }
    primary, other = plans[study.plan_metric], "chrf" if study.plan_metric == "nll" else "nll"
    primary["uniform"].save(study.results / "plan_uniform.json")
    primary["proportional"].save(study.results / "plan_proportional.json")
    plans[other]["optimized"].save(study.results / f"plan_{other}_laws.json")
    write_json(study.results / "available.json", available)
    primary["optimized"].save(study.results / "plan.json")  # the job's output: last
    whole = round_sizes(primary["optimized"].sizes, study.budget)
    if whole == round_sizes(primary["uniform"].sizes, study.budget):
        log.warning("the optimised plan comes to uniform's whole pairs (%s): its models and uniform's are trained "
                    "on the same mixture, so the study cannot tell them apart; the report says so",
                    ", ".join(f"{k} {v}" for k, v in whole.items()))
    log.info("laws and plans in %.0f s: %s", time.perf_counter() - t,
             {k: round(v) for k, v in primary["optimized"].sizes.items()})


def _mixture(sizes: dict, languages) -> str:
    return ";".join(f"{lang}={int(sizes.get(lang, 0))}" for lang in languages)


def pilots_table(recs, languages):
    """The mixed pilots table (docs/formats/pilots.md): every pilot, extrapolation, transfer and
    repetition model's NLL rows. Extrapolation models are one-language models like the pilots, at
    2-4x their largest size: they pin the own laws' curvature where multilingual models read them."""
    import pandas as pd

    rows, seen = [], set()
    for r in recs:
        kind, run = r["kind"], r["run"]
        if kind not in ("pilot", "extrapolation", "transfer", "repetition"):
            continue
        # the same training configuration twice (a repetition design's "distinct x1" model at an
        # extrapolation size and seed): one run of it in the table, the first recorded; the other
        # stays in results.csv as a reproducibility check
        config = (tuple(sorted(r["sizes"].items())), r["seed"], int(r.get("epochs") or 1))
        if len(r["sizes"]) == 1 and config in seen:
            continue
        seen.add(config)
        for lang, sc in sorted(r["scores"].items()):
            row = {"language": lang, "size": int(r["sizes"].get(lang, 0)), "score": round(sc["nll"], 6),
                   "seed": r["seed"], "metric": "nll", "run": run, "mixture": "", "unique": ""}
            if kind == "transfer":
                row["mixture"] = _mixture(r["sizes"], languages)
            if kind == "repetition" and r.get("unique", {}).get(lang, row["size"]) < row["size"]:
                row["unique"] = int(r["unique"][lang])
            rows.append(row)
    return pd.DataFrame(rows, columns=["language", "size", "score", "seed", "metric", "run", "mixture", "unique"])


def fit_transfer(frame, n_boot: int, transfer: str = "auto", stage1: str = "separate"):
    return bl.fit(frame, metric="nll", lower_is_better=True, transfer=transfer, n_boot=n_boot, seed=0, stage1=stage1)


def transfer_plan(study, job) -> None:
    """The plan made on the transfer-aware law, and uniform judged under the same law: fitted on
    the models the job needs (the pilots, the extrapolation and the leave-one-out models), then
    written once and frozen."""
    t = time.perf_counter()
    # only the models the job needs: a refining pilot that happens to be recorded already (another
    # worker, an earlier run) must not change the frozen plan
    needed = set(job.needs)
    frame = pilots_table([r for r in records(study) if r["run"] in needed], study.codes)
    with atomic_write(study.results / "pilots_transfer_plan.csv") as fh:
        frame.to_csv(fh, index=False, lineterminator="\n")
    laws = fit_transfer(frame, study.transfer.n_boot, stage1=study.transfer.stage1)
    laws.save(study.results / "laws_transfer_plan.json")
    available = json.loads((study.results / "available.json").read_text(encoding="utf-8"))
    available = {lang: available[lang] for lang in study.codes}
    bl.baselines.uniform(laws, study.budget, available=available).save(study.results / "plan_transfer_uniform.json")
    made = bl.allocate(laws, study.budget, available=available, objective=study.objective)
    made.save(study.results / "plan_transfer.json")  # the job's output: last
    log.info("transfer law (%s) and plan in %.0f s: %s", laws.transfer.form if laws.transfer is not None else "none",
             time.perf_counter() - t, {k: round(v) for k, v in made.sizes.items()})


def refit(study) -> None:
    """Laws from every pilot point (all seeds), for the report: pilots.csv, laws.json, laws_chrf.json."""
    pilots = pilots_frame(study)
    pilots.to_csv(study.results / "pilots.csv", index=False, lineterminator="\n")
    bl.fit(pilots, metric="nll", lower_is_better=True, seed=0).save(study.results / "laws.json")
    bl.fit(pilots, metric="chrf", free_ceiling=True, max_score=100.0, seed=0).save(study.results / "laws_chrf.json")
