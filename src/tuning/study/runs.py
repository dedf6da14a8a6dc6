"""One model of a study: mixture -> train -> evaluate -> record (``R/runs/<id>.json``).

The record, written last and atomically (JSON, sorted keys)::

    run, kind, seed, sizes           sizes: pairs of each language seen in training (repeats included)
    available_pairs, heldout_hits, mixture_sha256     from the mixture's manifest
    train {wall_s, step_s, steps, tokens, target_tokens, tokens_per_s, final_loss, config}
    scores {lang: {nll, chrf, bleu, off_target, generated, chrf@N..., signatures}}, eval_s
    epochs, unique                   only for a model that saw its pairs more than once
    plan / design                    which plan or transfer design the model comes from
    total_s

Per language the predictions go to ``R/predictions/<id>.<lang>.jsonl`` (id, prediction,
reference, source, nll, ref_tokens), written before the record. Models, mixtures and training
logs live in the work folder; a model is deleted once its record is written.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import budgetlaw as bl
from budgetlaw.fileio import atomic_write  # temp file beside the target, renamed on success
from tuning.data.mixture import build_mixture
from tuning.errors import InputError
from tuning.evaluation.align import alignment as align
from tuning.evaluation.likelihood import mean_nll, nll_signature, reference_nll
from tuning.evaluation.tasks import load_task, score_task
from tuning.generation import GenerateSettings, generate, load_model
from tuning.study.graph import base_model_dir, round_sizes
from tuning.train.config import load_config

log = logging.getLogger("tuning.study")


def write_json(path: Path, data) -> None:
    with atomic_write(path) as fh:
        fh.write(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


def write_jsonl(path: Path, rows) -> None:
    with atomic_write(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def mixture(study, run: str, sizes: dict[str, int], seed: int) -> tuple[Path, dict]:
    path = study.work / "mix" / f"{run}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    instructions = None
    if study.instructions:  # CoIT (one language) or MuIT (several): the pairs plus the instructions
        instructions = {"en": study.instructions}
        instructions.update({lang: study.language(lang).instructions for lang in sizes
                             if study.language(lang).instructions})
    manifest = build_mixture(
        {"sizes": sizes}, path, parallel={lang: study.language(lang).parallel for lang in sizes},
        instructions=instructions, heldout={lang: str(study.results / "heldout" / f"{lang}.tsv") for lang in study.codes},
        recipe=None if instructions else "translation", seed=seed)
    hits = sum(manifest["heldout_hits"].values())
    log.info("%s: mixture of %d records; %d pairs dropped as held-out", run, manifest["output"]["records"], hits)
    return path, manifest


def _train_here(cfg: Path, logfile: Path) -> int:
    """``tuning train CFG`` in this process (a worker runs one job, then exits): saves a Python and
    torch start per model. Its log lines go to ``logfile`` as the child's would."""
    import torch.distributed as dist

    from tuning.train.trainer import train as run_training

    handler = logging.FileHandler(logfile, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    try:
        run_training(load_config(cfg))
    except InputError as exc:
        log.error("%s", exc)
        return 2
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        if dist.is_initialized():
            dist.destroy_process_group()
        import gc

        gc.collect()  # the trained model and its optimizer state go before evaluation loads the model again
    return 0


def train(study, run: str, data: Path, seed: int, epochs: int = 1) -> tuple[Path, dict]:
    """``tuning train``: here for one process, through torchrun in a child when train.nproc > 1."""
    out = study.work / "models" / run
    if out.exists():
        shutil.rmtree(out)  # a run killed mid-way starts again: its half-trained model is not reused
    settings = {k: v for k, v in study.train.items() if k != "nproc"}
    config = {"model": str(base_model_dir(study)), "data": str(data), "output_dir": str(out), "epochs": epochs,
              **settings, "chat_template": study.chat, "seed": seed}
    cfg = study.work / "mix" / f"{run}.yaml"
    cfg.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in config.items()), encoding="utf-8")
    logfile = study.work / "models" / f"{run}.log"
    nproc = study.train["nproc"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m", "tuning"]
    t = time.perf_counter()
    if nproc == 1:
        returncode = _train_here(cfg, logfile)
    else:
        with open(logfile, "w", encoding="utf-8") as fh:
            returncode = subprocess.run([*launcher, "train", str(cfg)], stdout=fh, stderr=subprocess.STDOUT).returncode
    if returncode != 0:
        raise RuntimeError(f"{run}: training failed (exit {returncode}); see {logfile}")
    metrics = [json.loads(line) for line in open(out / "metrics.jsonl", encoding="utf-8")]
    train_s = sum(m["step_time_s"] for m in metrics)
    info = {"wall_s": round(time.perf_counter() - t, 1), "step_s": round(train_s, 1), "steps": len(metrics),
            "tokens": sum(m["tokens"] for m in metrics),
            "target_tokens": sum(m["target_tokens"] for m in metrics),
            "tokens_per_s": round(sum(m["tokens"] for m in metrics) / train_s, 1),
            "final_loss": metrics[-1]["loss"], "config": config}
    return out / "final", info


def _first_part(study, task, hyps) -> dict:
    """Scores on the first pilot_generate messages, when more were generated (metric@N)."""
    k = study.evaluate["pilot_generate"]
    if len(hyps) <= k:
        return {}
    rows = score_task(dataclasses.replace(task, items=tuple(task.items[:k])), hyps[:k])
    return {f"{r.metric}@{k}": r.score for r in rows}


def evaluate(study, run: str, model_dir: Path, languages, generate_n: int | None = None) -> dict:
    """Reference NLL on each language's held-out set, and generation (chrF++, BLEU, off-target)
    on its first ``generate_n`` messages (all when None; then also scored on the first
    ``pilot_generate`` as metric@N, to compare with the pilots like for like; none when 0:
    the transfer pilots need NLL only)."""
    ev = study.evaluate
    t = time.perf_counter()
    device = None if ev["device"] == "auto" else ev["device"]
    model, tok = load_model(model_dir, device=device, dtype=ev["dtype"])
    prompt, special = study.prompt, not study.chat  # a chat template writes its own special tokens
    scores: dict[str, dict] = {}
    for lang in languages:
        task = load_task(f"jsonl:heldout-{lang}", study.results / "heldout" / f"{lang}.jsonl",
                         tokenizer=tok, chat_template=study.chat)
        refs = [it.reference for it in task.items]
        # A translation much longer than the longest reference is wrong anyway; the cap keeps
        # an untrained model's rambling from costing minutes per language.
        longest = max(len(tok(r, add_special_tokens=False)["input_ids"]) for r in refs)
        max_new = min(ev["max_new_tokens"], max(16, int(1.5 * longest) + 8))
        nll = None
        if generate_n == 0:
            nll = reference_nll(model, tok, task.prompts, refs, add_special_tokens=special, progress=False)
            scores[lang] = {"nll": mean_nll(nll), "generated": 0, "signatures": {"nll": nll_signature(prompt)}}
            hyps = []
            log.info("%s %s: nll %.3f", run, lang, scores[lang]["nll"])
        else:
            items = task.items[:generate_n] if generate_n else task.items
            decoding = GenerateSettings(batch_size=ev["gen_batch"], max_new_tokens=max_new, add_special_tokens=special)
            hyps = generate(model, [it.prompt for it in items], decoding, tokenizer=tok, progress=False)
            signature = f"decode:greedy|max_new:{max_new}|prompt:{prompt}"
            rows = score_task(dataclasses.replace(task, items=tuple(items)), hyps, model=run, extra_signature=signature)
            nll = reference_nll(model, tok, task.prompts, refs, add_special_tokens=special, progress=False)
            sc = {r.metric: r.score for r in rows}
            sc["generated"] = len(items)
            sc["nll"] = mean_nll(nll)
            sc["signatures"] = {r.metric: r.signature for r in rows}
            sc["signatures"]["nll"] = nll_signature(prompt)
            sc.update(_first_part(study, task, hyps))
            scores[lang] = sc
            log.info("%s %s: chrF++ %.1f BLEU %.1f off-target %.0f%% nll %.3f", run, lang, sc["chrf"], sc["bleu"],
                     sc["off_target"], sc["nll"])
        write_jsonl(study.results / "predictions" / f"{run}.{lang}.jsonl",
                    ({"id": it.id, "prediction": hyps[i] if i < len(hyps) else None, "reference": it.reference,
                      "source": it.source, "nll": round(v, 4), "ref_tokens": n}
                     for i, (it, (v, n)) in enumerate(zip(task.items, nll))))
    del model
    return {"scores": scores, "eval_s": round(time.perf_counter() - t, 1)}


def sizes_of(study, params: dict) -> dict[str, int]:
    """A job's mixture sizes: given, or read from the frozen plan it names."""
    if "sizes_from" not in params:
        return {k: int(v) for k, v in params["sizes"].items()}
    name = params["sizes_from"]
    file = {"optimized": "plan.json", "transfer": "plan_transfer.json"}.get(name, f"plan_{name}.json")
    return round_sizes(bl.load_plan(study.results / file).sizes, study.budget)


def alignment(study, tuned: Path) -> dict:
    """Per-layer alignment of English and translations, base vs ``tuned`` (alignment.csv)."""
    import pandas as pd

    t = time.perf_counter()
    pairs = {}
    for lang in study.codes:
        rows = [json.loads(x) for x in open(study.results / "heldout" / f"{lang}.jsonl", encoding="utf-8")]
        rows = rows[: study.evaluate["align_pairs"]]
        pairs[lang] = ([r["input"] for r in rows], [r["reference"] for r in rows])
    frames = []
    for name, path in (("base", base_model_dir(study)), ("optimized", tuned)):
        f = align(path, pairs, batch_size=16)
        f.insert(0, "model", name)
        frames.append(f)
    with atomic_write(study.results / "alignment.csv") as fh:
        pd.concat(frames).to_csv(fh, index=False, lineterminator="\n", float_format="%.6g")
    return {"alignment_s": round(time.perf_counter() - t, 1)}


def run_model(study, job) -> dict:
    """The job of one trained model (pilot, multilingual, extrapolation, transfer, repetition)."""
    p = job.params
    t = time.perf_counter()
    seed, epochs, kind = p["seed"], p.get("epochs", 1), p["record_kind"]
    sizes = sizes_of(study, p)
    data, manifest = mixture(study, job.id, {k: v for k, v in sizes.items() if v > 0}, seed)
    model_dir, train_info = train(study, job.id, data, seed, epochs)
    generate_n = p.get("generate_n")
    if generate_n is None and kind == "pilot":
        generate_n = study.evaluate["pilot_generate"]
    ev = evaluate(study, job.id, model_dir, p["eval_langs"], generate_n)
    if p.get("align"):  # the first optimised model also gives the alignment plot, before it is deleted
        ev.update(alignment(study, model_dir))
    extra = {k: p[k] for k in ("plan", "design") if k in p}
    # sizes are pairs seen in training (repeats included); a language given 0 pairs is kept
    # as 0 (a leave-one-out model's pure-transfer language)
    counts = manifest["counts"]
    seen = {lang: counts[lang]["translation"] * epochs if lang in counts else 0 for lang in sizes}
    if epochs != 1:
        extra = {**extra, "epochs": epochs, "unique": {lang: counts[lang]["translation"] for lang in sizes}}
    record = {"run": job.id, "kind": kind, "seed": seed, "sizes": seen,
              "available_pairs": manifest["available_pairs"], "heldout_hits": manifest["heldout_hits"],
              "mixture_sha256": manifest["output"]["sha256"], "train": train_info, **ev, **extra,
              "total_s": round(time.perf_counter() - t, 1)}
    write_json(study.results / "runs" / f"{job.id}.json", record)
    shutil.rmtree(model_dir.parent, ignore_errors=True)  # a model is large: keep only the records
    return record


def run_base(study, job) -> dict:
    t = time.perf_counter()
    ev = evaluate(study, "base", base_model_dir(study), study.codes)
    record = {"run": "base", "kind": "base", "seed": 0, "sizes": {}, **ev, "total_s": round(time.perf_counter() - t, 1)}
    write_json(study.results / "runs" / "base.json", record)
    return record


def threads_for_worker() -> None:
    """Torch in this process uses the threads its executor gave it (OMP_NUM_THREADS)."""
    n = os.environ.get("OMP_NUM_THREADS")
    if n and n.isdigit():
        import torch

        torch.set_num_threads(int(n))
