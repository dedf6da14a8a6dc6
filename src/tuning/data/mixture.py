"""Carry a budgetlaw plan out: plan.json + data -> mixture.jsonl + mixture.manifest.json.

For every language L of the plan (``sizes`` {L: pairs}, ``constraints.max_epochs``):

1. stream L's parallel pairs from all its inputs, drop those whose English or L side matches a
   held-out text (counted in ``heldout_hits``), and draw ``round(size)`` distinct pairs with
   :func:`tuning.data.sampling.sample_distinct` (seed ``"<seed>:<L>"``; duplicates by
   normalised text are counted in ``removed_duplicates``);
2. when fewer distinct pairs exist than planned, repeat them (each pair ``size // n`` times, plus
   the first ``size % n`` once more) if ``ceil(size / n) <= max_epochs``, else fail;
3. make one translation record per pair: direction en->L (``en-x``), L->en (``x-en``) or drawn
   per record (``both``); instruction drawn per record from
   :data:`tuning.prompts.TRANSLATION_INSTRUCTIONS`;
4. add L's translated instructions (``instructions[L]``), and once the English ones
   (``instructions["en"]``, required), deduplicated and held-out-filtered the same way.

The records are shuffled (seeded) and written as JSONL, keys in the order
``id, language, task, instruction, input, output, source``; the manifest beside it is described
in docs/data.md. Same inputs and seed give byte-identical files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from budgetlaw.fileio import atomic_paths, check_output, read_json

from tuning.data.reading import sha256_file
from tuning.data.heldout import Heldout
from tuning.data.readers import PairPacker, open_pairs
from tuning.data.sampling import normalize, sample_distinct
import budgetlaw as bl
import tuning
from tuning.errors import InputError
from tuning.languages import canonical
from tuning.prompts import DIRECTIONS, translation_instruction
from tuning.data.instructions import read_instructions
from tuning.data.reading import iter_jsonl

__all__ = ["RECIPES", "RECORD_KEYS", "MANIFEST_FORMAT", "read_plan", "build_mixture",
           "manifest_path", "read_mixture"]

log = logging.getLogger(__name__)

# coit: one target language; muit: several; translation: translation pairs only, any number of
# languages, no instructions (for a setting where no instruction data exists, e.g. offline).
RECIPES = ("coit", "muit", "translation")
RECORD_KEYS = ("id", "language", "task", "instruction", "input", "output", "source")
MANIFEST_FORMAT = "tuning-mixture-manifest/1"


def manifest_path(out) -> Path:
    """``mix.jsonl`` -> ``mix.manifest.json`` (any last suffix is replaced)."""
    out = Path(out)
    return out.with_name((out.stem if out.suffix else out.name) + ".manifest.json")


def read_plan(plan) -> tuple[dict, dict[str, float], float]:
    """``(plan_dict, sizes, max_epochs)`` from a plan.json path, a dict or a Plan object.

    Only ``sizes`` ({language: pairs}) and ``constraints.max_epochs`` (default 1) are used. A
    plan with a ``format`` key is validated in full by ``budgetlaw.plan.Plan.from_dict``; one
    without (written by hand) needs only ``sizes``.
    """
    where = "plan"
    if hasattr(plan, "to_dict"):
        plan = plan.to_dict()
    elif isinstance(plan, (str, os.PathLike)):
        where = str(plan)
        plan = read_json(plan, error=InputError, message=lambda exc: (
            f"{where}: cannot open the plan ({exc.strerror}); check the path" if isinstance(exc, OSError)
            else f"{where}: not a JSON plan ({str(exc)[:200] or 'nested too deeply'}); write it with budgetlaw allocate"))
    if not isinstance(plan, Mapping):
        raise InputError(f"{where}: a plan is a JSON object with 'sizes'")
    fmt = plan.get("format")
    if fmt is not None and not str(fmt).startswith("budgetlaw-plan/"):
        raise InputError(f"{where}: format {fmt!r} is not a budgetlaw plan (budgetlaw-plan/1)")
    if fmt is not None:
        _check_with_budgetlaw(plan, where)
    raw = plan.get("sizes")
    if not isinstance(raw, Mapping) or not raw:
        raise InputError(f"{where}: 'sizes' must be a non-empty object {{language: pairs}}")
    sizes: dict[str, float] = {}
    for lang, size in raw.items():
        try:
            code = canonical(lang)
        except InputError as exc:
            raise InputError(f"{where}: sizes[{lang!r}]: {exc}") from None
        if code == "en":
            raise InputError(f"{where}: sizes[{lang!r}]: English is the pivot, not a planned language")
        if code in sizes:
            raise InputError(f"{where}: sizes names {code} twice (as {lang!r}); keep one")
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size) or size < 0:
            raise InputError(f"{where}: sizes[{lang!r}] = {size!r}; must be a number >= 0")
        sizes[code] = float(size)
    constraints = plan.get("constraints") or {}
    max_epochs = constraints.get("max_epochs", 1) if isinstance(constraints, Mapping) else 1
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, (int, float)) or not max_epochs >= 1:
        raise InputError(f"{where}: constraints.max_epochs = {max_epochs!r}; must be a number >= 1")
    return dict(plan), sizes, float(max_epochs)


def _check_with_budgetlaw(plan: Mapping, where: str) -> None:
    """A plan that says it is a budgetlaw plan is validated in full by budgetlaw itself (its
    InputError, the base of tuning's, passes through with budgetlaw's message)."""

    bl.Plan.from_dict(dict(plan), where=where)  # the public name: it survives a regrouping of budgetlaw


def _specs(arg, what: str) -> dict[str, list[str]]:
    """{lang: [path, ...]} from a mapping (values a path or a list) or (lang, path) pairs."""
    items: Iterable = arg.items() if isinstance(arg, Mapping) else (arg or ())
    out: dict[str, list[str]] = {}
    for lang, paths in items:
        try:
            code = canonical(lang)
        except InputError as exc:
            raise InputError(f"{what} {lang}=...: {exc}") from None
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        out.setdefault(code, []).extend(str(p) for p in paths)
    return out


def _repeat(sample, k: int, max_epochs: float, lang: str, planned: float) -> list:
    sample = list(sample)  # unpack the packed sample: the records will hold the texts anyway
    n = len(sample)
    if n >= k:
        return sample[:k]
    if n == 0:
        raise InputError(f"{lang}: no usable pairs in its --parallel inputs (after removing held-out "
                         "and duplicate pairs); give more data for it")
    if math.ceil(k / n) > max_epochs:
        raise InputError(
            f"{lang}: the plan asks for {planned:g} pairs but its inputs hold only {n} distinct pairs "
            f"(after removing held-out and duplicates), which needs {math.ceil(k / n)} epochs while "
            f"the plan allows max_epochs={max_epochs:g}. Add data for {lang}, or re-plan with "
            f"available {lang}={n} (budgetlaw allocate --languages LANGS.csv with an available column) or a larger max_epochs"
        )
    return sample * (k // n) + sample[: k % n]


def _translation_records(lang, pairs, direction, rng) -> list[dict]:
    records = []
    for i, pair in enumerate(pairs):
        forward = direction == "en-x" or (direction == "both" and rng.random() < 0.5)
        src, tgt = ("en", lang) if forward else (lang, "en")
        records.append({
            "id": f"{lang}-tr-{i:07d}", "language": lang, "task": "translation",
            "instruction": translation_instruction(src, tgt, rng),
            "input": pair.en if forward else pair.xx,
            "output": pair.xx if forward else pair.en,
            "source": pair.origin,
        })
    return records


def _instruction_records(lang, specs, heldout, stats) -> tuple[list[dict], list[dict]]:
    records, inputs, seen = [], [], set()
    for spec in specs:
        items = read_instructions(spec)
        inputs.append({"path": spec, "language": lang, "format": "instructions",
                       "sha256": sha256_file(spec), "role": "instructions", "items": len(items)})
        for rec in items:
            if heldout.hit_record(rec):
                stats["heldout"][lang] += 1
                continue
            key = (normalize(rec["instruction"]), normalize(rec["input"]), normalize(rec["output"]))
            if key in seen:
                stats["dup_instruction"][lang] += 1
                continue
            seen.add(key)
            records.append({
                "id": f"{lang}-in-{len(records):07d}", "language": lang, "task": "instruction",
                "instruction": rec["instruction"], "input": rec["input"], "output": rec["output"],
                "source": spec,
            })
    return records, inputs


@dataclasses.dataclass(frozen=True)
class _Inputs:
    """A checked request: the plan's numbers, the recipe, and every input opened."""

    plan: dict
    sizes: dict[str, float]
    max_epochs: float
    recipe: str
    direction: str
    min_score: float | None
    sources: dict[str, list]  # language -> [PairSource]
    instructions: dict[str, list[str]]
    heldout: dict[str, list[str]]
    files: list  # every input path (the plan's too), which no output may overwrite


def build_mixture(plan, out, *, parallel, instructions=None, heldout=None, recipe: str | None = None,
                  direction: str = "en-x", seed: int = 0, min_score: float | None = None) -> dict:
    """Write the mixture JSONL at ``out`` and its manifest beside it; return the manifest.

    ``parallel``/``instructions``/``heldout``: {language: path or [paths]} or (language, path)
    pairs; any spelling of a language. ``recipe``: "coit" (one planned language) or "muit"
    (several); default from the plan; "translation" draws the translation pairs alone (step 4 is
    skipped and no instructions may be given). See the module docstring for what is drawn.
    """
    inputs = _open_inputs(plan, parallel, instructions, heldout, recipe, direction, min_score)
    check_output(out, inputs.files)
    check_output(manifest_path(out), inputs.files, option="-o (its manifest)")
    records, manifest = _draw(inputs, seed)
    return _write(records, manifest, Path(out))


def _open_inputs(plan, parallel, instructions, heldout, recipe, direction, min_score) -> _Inputs:
    """Check the request and open every input, before the long work: a wrong path fails in a
    second, not an hour."""
    if min_score is not None and not math.isfinite(min_score):
        raise InputError(f"--min-score {min_score}: give a finite alignment score (rows below it are dropped)")
    plan_dict, sizes, max_epochs = read_plan(plan)
    langs = list(sizes)
    if recipe is None:
        recipe = "coit" if len(langs) == 1 else "muit"
    if recipe not in RECIPES:
        raise InputError(f"recipe {recipe!r}: choose one of {', '.join(RECIPES)}")
    if recipe == "coit" and len(langs) != 1:
        raise InputError(f"recipe coit tunes for one target language but the plan has {len(langs)} "
                         f"({', '.join(langs)}); use --recipe muit or a one-language plan")
    if direction not in DIRECTIONS:
        raise InputError(f"direction {direction!r}: choose one of {', '.join(DIRECTIONS)}")
    par = _specs(parallel, "--parallel")
    ins = _specs(instructions, "--instructions")
    held = _specs(heldout, "--heldout")
    missing = [lang for lang in langs if lang not in par]
    if missing:
        raise InputError(f"the plan names {', '.join(missing)} but no parallel data was given for "
                         f"{'it' if len(missing) == 1 else 'them'}: add --parallel "
                         f"{missing[0]}=PATH (or drop the language from the plan)")
    if recipe == "translation":
        if ins:
            raise InputError(f"recipe translation takes translation pairs only, but --instructions "
                             f"{next(iter(ins))}=... was given; drop --instructions or use --recipe coit/muit")
    elif "en" not in ins:
        raise InputError("no English instructions: add --instructions en=PATH (Alpaca JSON or JSONL); "
                         "the recipes always train on them")
    for lang in sorted(set(par) - set(langs)):
        log.warning("--parallel %s given but the plan has no %s: ignored", lang, lang)
    for lang in sorted(set(ins) - set(langs) - {"en"}):
        log.warning("--instructions %s given but the plan has no %s: ignored", lang, lang)
    for lang in langs:
        if lang not in ins and recipe != "translation":
            log.warning("%s: no translated instructions (--instructions %s=PATH); only English ones", lang, lang)

    sources = {lang: [open_pairs(spec, lang, min_score=min_score) for spec in par[lang]] for lang in langs}
    for lang, specs in ins.items():
        for spec in specs:
            if not Path(spec).is_file():
                raise InputError(f"{spec}: no such file (--instructions {lang}); check the path")
    for lang, specs in held.items():
        for spec in specs:
            if not all(Path(p).exists() for p in spec.split(",")):
                raise InputError(f"{spec}: no such file or folder (--heldout {lang}); check the path")
    files = [plan if isinstance(plan, (str, os.PathLike)) else None,
             *(f for srcs in sources.values() for s in srcs for f in s.files),
             *(p for specs in ins.values() for p in specs), *(p for specs in held.values() for p in specs)]
    return _Inputs(plan_dict, sizes, max_epochs, recipe, direction, min_score, sources, ins, held, files)


def _draw(inputs: _Inputs, seed: int) -> tuple[list[dict], dict]:
    """The shuffled records and the manifest (all but its ``output`` entry): steps 1-4 of the
    module docstring. Nothing is written."""

    langs, sources, ins = list(inputs.sizes), inputs.sources, inputs.instructions
    stats = {"heldout": Counter(), "dup_instruction": Counter()}
    hold = Heldout()
    for lang, specs in inputs.heldout.items():
        for spec in specs:
            hold.add(lang, spec)
    described = list(hold.inputs)
    records: list[dict] = []
    dup_pairs: dict[str, int] = {}
    available: dict[str, int] = {}
    for lang in langs:
        k = int(math.floor(inputs.sizes[lang] + 0.5))
        read = Counter()

        def stream(lang=lang, read=read):
            for source in sources[lang]:
                for pair in source.pairs():
                    read[source.spec] += 1
                    if hold.hit_pair(pair.en, pair.xx):
                        stats["heldout"][lang] += 1
                        continue
                    yield pair

        packer = PairPacker()
        sample, sstats = sample_distinct(stream(), k, seed=f"{seed}:{lang}", parts=lambda p: (p.en, p.xx),
                                         pack=packer.pack, unpack=packer.unpack)
        dup_pairs[lang], available[lang] = sstats.duplicates, sstats.distinct
        pairs = _repeat(sample, k, inputs.max_epochs, lang, inputs.sizes[lang])
        log.info("%s: %d pairs drawn from %d distinct (%d read)", lang, len(pairs), sstats.distinct, sstats.seen)
        rng = random.Random(f"{seed}:{lang}:translation")
        records += _translation_records(lang, pairs, inputs.direction, rng)
        for source in sources[lang]:
            described.append({**source.describe(), "role": "parallel", "items": read[source.spec]})
    for lang in ["en", *langs]:
        if lang in ins:
            recs, descs = _instruction_records(lang, ins[lang], hold, stats)
            if not recs and stats["heldout"][lang]:
                raise InputError(f"--heldout removes every {lang} instruction ({stats['heldout'][lang]} of them "
                                 f"match held-out text); check that --heldout and --instructions {lang}= are "
                                 "not the same data")
            records += recs
            described += descs

    random.Random(f"{seed}:shuffle").shuffle(records)
    counts = {lang: {"translation": 0, "instruction": 0} for lang in ["en", *langs]}
    for rec in records:
        counts[rec["language"]][rec["task"]] += 1
    manifest = {
        "format": MANIFEST_FORMAT,
        "seed": seed,
        "recipe": inputs.recipe,
        "direction": inputs.direction,
        "min_score": inputs.min_score,
        "plan": inputs.plan,
        "max_epochs": inputs.max_epochs,
        "counts": counts,
        "available_pairs": available,
        "epochs": {lang: (counts[lang]["translation"] / available[lang]) if available[lang] else 0.0
                   for lang in langs},
        "by_source": dict(sorted(Counter(r["source"] for r in records).items())),
        "removed_duplicates": {lang: {"translation": dup_pairs.get(lang, 0),
                                      "instruction": stats["dup_instruction"][lang]}
                               for lang in ["en", *langs]},
        "heldout_hits": {lang: stats["heldout"][lang] for lang in ["en", *langs]},
        "inputs": described,
        "versions": {"tuning": tuning.__version__, "format": MANIFEST_FORMAT},
    }
    return records, manifest


def _write(records: list[dict], manifest: dict, out: Path) -> dict:
    """Write the records (keys in :data:`RECORD_KEYS` order) and the manifest, which gains the
    mixture's name, sha256 and record count; both files appear together or not at all."""
    mpath = manifest_path(out)
    with atomic_paths(out, mpath) as (tmp_out, tmp_manifest):
        with open(tmp_out, "w", encoding="utf-8", newline="\n") as fh:
            for rec in records:
                fh.write(json.dumps({k: rec[k] for k in RECORD_KEYS}, ensure_ascii=False) + "\n")
        manifest["output"] = {"path": out.name, "sha256": sha256_file(tmp_out), "records": len(records)}
        with open(tmp_manifest, "w", encoding="utf-8", newline="\n") as fh:
            json.dump(manifest, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
    log.info("wrote %s (%d records) and %s", out, len(records), mpath)
    return manifest


def read_mixture(path) -> list[dict]:
    """The records of a mixture JSONL, checked: every line an object with :data:`RECORD_KEYS`."""

    records = []
    for number, rec in iter_jsonl(path):
        if any(k not in rec for k in ("language", "instruction", "output")):
            raise InputError(f"{path}, line {number}: a mixture record needs the keys "
                             f"{', '.join(RECORD_KEYS)}")
        records.append(rec)
    if not records:
        raise InputError(f"{path}: no records; is this a mixture file (tuning mix)?")
    return records
