"""`tuning generate | eval | pilots | align`: thin wrappers over tuning.evaluation.

No torch at module level: `tuning --help` stays fast.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
from pathlib import Path

from tuning.errors import InputError
from tuning.evaluation.settings import GenerationSettings
from budgetlaw.fileio import check_output
from tuning.evaluation.predictions import generate_to_file, read_prompts
from tuning.generation import load_model
from tuning.evaluation.predictions import check_resume, generate_to_file, read_predictions
from tuning.evaluation.results import write_results
from tuning.evaluation.tasks import load_task, score_task
from tuning.evaluation.likelihood import mean_nll, nll_signature, reference_nll
from tuning.evaluation.results import ResultRow
from budgetlaw.fileio import read_json, write_json
from tuning.evaluation.results import read_manifest, read_results, results_to_pilots, write_pilots
from tuning.evaluation.align import alignment, plot_alignment, read_pairs
from budgetlaw.fileio import atomic_write
from tuning.metrics.comet_metric import looks_like_path
from tuning.evaluation.tasks import flores_lines
from tuning.languages import canonical

log = logging.getLogger(__name__)


def _gen_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--max-prompt-tokens", type=int, default=None, help="keep the last N prompt tokens")
    p.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-sort", action="store_true", help="batch in input order (no length sorting)")
    p.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    p.add_argument("--dtype", default=None, help="float32, bfloat16, float16 (default: bf16 on GPU)")
    p.add_argument("--backend", default="torch",
                   help="torch (default), hf (model.generate), or an optional engine: ctranslate2, vllm (greedy only)")
    p.add_argument("--draft-tokens", type=int, default=None, metavar="N",
                   help="backend torch: at most N prompt-lookup draft tokens verified per row and pass "
                        "(default 5; 0 = one token per pass)")


def register(subparsers) -> None:
    p = subparsers.add_parser("generate", help="complete the prompts of a JSONL file (resumable)")
    p.add_argument("--model", required=True, help="model directory (save_pretrained layout)")
    p.add_argument("--prompts", required=True, help="JSONL with id and prompt (or instruction/input)")
    p.add_argument("-o", "--output", required=True, help="predictions JSONL (id, prompt, prediction)")
    _gen_options(p)
    p.set_defaults(func=cmd_generate)

    p = subparsers.add_parser("eval", help="generate and score tasks; write results.csv")
    p.add_argument("--model", help="model directory; omit when every task has --predictions")
    p.add_argument("--task", action="append", required=True,
                   help="flores:SRC-TGT, xquad:LANG, mlqa:LANG, jsonl:NAME, jsonl-qa:NAME (repeat)")
    p.add_argument("--data", action="append", required=True, help="data path, one per --task, same order")
    p.add_argument("--predictions", action="append", default=None,
                   help="score this predictions JSONL instead of generating (one per --task)")
    p.add_argument("-o", "--output", required=True, help="results.csv")
    p.add_argument("--append", action="store_true", help="add rows to an existing results.csv")
    p.add_argument("--predictions-dir", default=None,
                   help="where generated predictions go (default: OUTPUT without .csv + '.predictions')")
    p.add_argument("--comet-model", default=None, help="COMET model dir/checkpoint (or hub name)")
    p.add_argument("--comet-batch-size", type=int, default=16)
    p.add_argument("--split", default="devtest", help="FLORES split (dev or devtest)")
    p.add_argument("--limit", type=int, default=None, help="first N items of each task")
    p.add_argument("--chat-template", action="store_true", help="render prompts with the chat template")
    p.add_argument("--nll", action="store_true",
                   help="also score the references' negative log-likelihood per token (metric nll, "
                        "nats/token, lower is better; translation tasks; needs --model)")
    _gen_options(p)
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("pilots", help="results.csv + mixture manifest -> budgetlaw pilots.csv")
    p.add_argument("--results", required=True)
    p.add_argument("--manifest", required=True, help="the OUT.manifest.json of the evaluated mixture")
    p.add_argument("--metric", required=True, help="metric column value, e.g. comet, chrf, bleu")
    p.add_argument("--task", default=None, help="keep tasks starting with this (e.g. flores:en-)")
    p.add_argument("--seed", type=int, default=None, help="seed column (default: manifest seed)")
    p.add_argument("--model", default=None,
                   help="keep this model's rows (needed when results.csv holds several models)")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--append", action="store_true", help="append to an existing pilots file")
    p.add_argument("--multilingual", action="store_true",
                   help="a multilingual model: write run, mixture and unique columns (every language's pairs), "
                        "for budgetlaw fit's transfer law")
    p.add_argument("--run", default=None, help="the model's name in the run column (default: its model directory)")
    p.set_defaults(func=cmd_pilots)

    p = subparsers.add_parser("align", help="per-layer alignment of translations with English")
    p.add_argument("--model", required=True)
    p.add_argument("--pairs", action="append", default=None, help="pairs JSONL (language, en, text)")
    p.add_argument("--flores", default=None, help="FLORES folder (with --languages)")
    p.add_argument("--languages", default=None, help="comma-separated, for --flores")
    p.add_argument("--split", default="devtest")
    p.add_argument("--limit", type=int, default=200, help="pairs per language")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("-o", "--output", required=True, help="alignment.csv")
    p.add_argument("--plot", default=None, help="PNG (default: OUTPUT with .png)")
    p.set_defaults(func=cmd_align)


def prediction_file_name(task_name: str) -> str:
    """A task's predictions file: its name with every character that is not an ASCII letter,
    digit, '.', '-' or '_' turned into '_' (so ``jsonl:x/../../y`` stays inside the predictions
    folder). Only the family's ':' is replaced silently; a name that loses any other character
    gets '-' and 8 hex digits of its sha256, so ``jsonl:a/b`` and ``jsonl:a\\b`` never share a file."""
    family, sep, arg = task_name.partition(":")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", task_name).lstrip(".") or "task"
    if re.fullmatch(r"[A-Za-z0-9._-]*", family + arg) is None or name != f"{family}{'_' if sep else ''}{arg}":
        name += "-" + hashlib.sha256(task_name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return name + ".jsonl"


def _items(task) -> list[tuple[str, str]]:
    return [(it.id, it.prompt) for it in task.items]


def _check_task_names(specs: list[str], names: list[str]) -> None:
    """Two --task giving the same predictions file would resume each other's predictions."""
    seen: dict[str, str] = {}
    for spec, task_name in zip(specs, names):
        name = prediction_file_name(task_name)
        if name in seen:
            raise InputError(f"--task {spec}: given twice (or the same name as --task {seen[name]}); "
                             "give each task once, naming two data sets differently (jsonl:NAME)")
        seen[name] = spec


def _check_prediction_dir(args, out: Path) -> Path:
    """The predictions folder is checked before the model loads: not the results file, not an
    existing file, not one of the inputs, in a folder that can be written."""

    pred_dir = Path(args.predictions_dir or out.with_suffix("").as_posix() + ".predictions")
    if os.path.abspath(pred_dir) == os.path.abspath(out):
        raise InputError(f"--predictions-dir {pred_dir}: the same path as -o {out}; give the predictions "
                         "folder another name")
    check_output(pred_dir, [*args.data, args.model, out], kind="dir", option="--predictions-dir")
    return pred_dir


def cmd_generate(args) -> int:
    settings = GenerationSettings.from_args(args).check()
    check_output(args.output, [args.prompts])
    items = read_prompts(args.prompts)
    model, tokenizer = load_model(args.model, device=args.device, dtype=args.dtype)
    done = generate_to_file(model, items, args.output, tokenizer=tokenizer, **settings.generate_kwargs())
    log.info("wrote %d predictions to %s", len(done), args.output)
    return 0


def cmd_eval(args) -> int:
    if len(args.data) != len(args.task):
        raise InputError(f"eval: {len(args.task)} --task but {len(args.data)} --data; give one --data per --task")
    if args.predictions is not None and len(args.predictions) != len(args.task):
        raise InputError("eval: give one --predictions per --task, or none to generate")
    if args.predictions is None and not args.model:
        raise InputError("eval: give --model to generate, or --predictions files to score")
    if args.nll and not args.model:
        raise InputError("eval: --nll scores the references under a model; give --model")
    if args.limit is not None and args.limit < 1:
        raise InputError(f"eval: --limit {args.limit} would score no item; give N >= 1 (or leave --limit out)")
    settings = GenerationSettings.from_args(args).check()
    if args.comet_model:
        if looks_like_path(args.comet_model) and not Path(args.comet_model).expanduser().exists():
            raise InputError(f"--comet-model {args.comet_model}: no such file or folder; pass a COMET model "
                             "directory (holding checkpoints/model.ckpt) or a .ckpt file")

    out = check_output(args.output, [*args.data, *(args.predictions or []), args.model])
    pred_dir = None
    if args.predictions is None:
        pred_dir = _check_prediction_dir(args, out)
    model = tokenizer = None
    if args.predictions is None or args.nll:  # generation and --nll both need the model

        model, tokenizer = load_model(args.model, device=args.device, dtype=args.dtype)
    tasks = [load_task(spec, data, split=args.split, limit=args.limit, tokenizer=tokenizer,
                       chat_template=args.chat_template) for spec, data in zip(args.task, args.data)]
    _check_task_names(args.task, [task.name for task in tasks])
    if pred_dir is not None:  # every resume is checked before the first new prediction
        for task in tasks:
            check_resume(_items(task), pred_dir / prediction_file_name(task.name), task=task.name)
        _claim_prediction_dir(pred_dir, {"model": str(args.model), "settings": settings.decoding(),
                                         "weights": weights_fingerprint(args.model)})
    rows = []
    for k, task in enumerate(tasks):
        ids = [it.id for it in task.items]
        if pred_dir is not None:
            path = pred_dir / prediction_file_name(task.name)
            done = generate_to_file(model, _items(task), path, tokenizer=tokenizer, task=task.name,
                                    add_special_tokens=not args.chat_template, **settings.generate_kwargs())
        else:
            path = Path(args.predictions[k])
            if not path.is_file():
                raise InputError(f"predictions file {path} does not exist")
            done = read_predictions(path, prompts=dict(_items(task)))
            if not done:
                raise InputError(f"predictions file {path} is empty; generate it with `tuning generate`")
        missing = [i for i in ids if i not in done]
        if missing:
            raise InputError(f"{path}: no prediction for {len(missing)} of {len(ids)} items of "
                             f"{task.name} (first id {missing[0]!r}); rerun to resume generation")
        rows += score_task(task, [done[i] for i in ids], model=args.model or "",
                           comet_model=args.comet_model, comet_batch_size=args.comet_batch_size,
                           extra_signature="preds:file" if args.predictions is not None else settings.signature())
        if args.nll:
            rows += _nll_rows(task, model, tokenizer, args)
        for r in rows[-8:]:
            if r.task == task.name:
                log.info("%s %s %s = %.2f", r.task, r.language, r.metric, r.score)
    write_results(rows, out, append=args.append)
    log.info("wrote %d rows to %s", len(rows), out)
    return 0


def _nll_rows(task, model, tokenizer, args) -> list:
    """One ``nll`` row per language of a translation task: sum of NLL / sum of reference tokens."""

    if task.kind != "translation":
        raise InputError(f"task {task.name}: --nll scores one reference per item; use it with translation tasks")
    per_item = reference_nll(model, tokenizer, task.prompts, [it.reference for it in task.items],
                             batch_size=args.batch_size, add_special_tokens=not args.chat_template)
    groups: dict[str, list] = {}
    for item, value in zip(task.items, per_item):
        groups.setdefault(task.language if task.language != "mixed" else item.language, []).append(value)
    signature = nll_signature("chat" if args.chat_template else "alpaca")
    return [ResultRow(lang, task.name, "nll", mean_nll(vals), len(vals), signature, str(args.model))
            for lang, vals in sorted(groups.items())]


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt")


def weights_fingerprint(model) -> str | None:
    """sha256 of (name, size, mtime) of every weight file of a local model (a folder, or one file
    such as a .gguf): weights saved again at the same path (a retrained model) change it, so a
    resume never mixes two models' predictions. None for a hub name (no local files to read)."""
    path = Path(str(model)).expanduser()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    else:
        return None
    root = path.parent if path.is_file() else path
    entries = [[str(p.relative_to(root)), (st := p.stat()).st_size, st.st_mtime_ns] for p in files]
    return hashlib.sha256(json.dumps(entries).encode("utf-8")).hexdigest()


def _claim_prediction_dir(pred_dir: Path, run: dict) -> None:
    """Resume only predictions made by the same model, weights and settings (run.json records
    them). A run.json written before the weights were recorded is taken on model and settings."""

    pred_dir.mkdir(parents=True, exist_ok=True)
    marker = pred_dir / "run.json"
    if marker.is_file():
        old = read_json(marker, error=InputError, message=lambda exc: f"{marker}: unreadable ({str(exc)[:200]}); it records which model and "
                                            "settings made these predictions: delete that folder, or pass a "
                                            "different --predictions-dir")
        if isinstance(old, dict):
            same_run = {k: v for k, v in old.items() if k != "weights"} == {k: v for k, v in run.items() if k != "weights"}
            if "weights" not in old:  # an older run.json: model and settings decide
                run = {k: v for k, v in run.items() if k != "weights"}
            elif same_run and old["weights"] != run.get("weights"):
                raise InputError(f"{pred_dir} holds predictions of {run['model']} as its weights were before they "
                                 "were saved again (run.json records their files' sizes and times); delete that "
                                 "folder to score the new weights, or pass a different --predictions-dir")
        if not isinstance(old, dict) or old != run:
            old = old if isinstance(old, dict) else {}
            raise InputError(
                f"{pred_dir} holds predictions of another run ({old.get('model')}, {old.get('settings')}); "
                "pass a different --predictions-dir (or -o), or delete that folder")
    else:
        write_json(marker, run, indent=1, sort_keys=False)


def cmd_pilots(args) -> int:
    out = check_output(args.output, [args.results, args.manifest])
    if out.exists() and not args.append:
        raise InputError(f"-o {out}: already exists; pass --append to add the new rows to it, or choose a new "
                         "name (a pilots file is never replaced silently)")
    pilots = results_to_pilots(read_results(args.results), read_manifest(args.manifest), args.metric,
                               task=args.task, seed=args.seed, model=args.model,
                               manifest_path=args.manifest, multilingual=args.multilingual, run=args.run)
    write_pilots(pilots, args.output, append=args.append)
    log.info("wrote %d pilot rows to %s", len(pilots), args.output)
    return 0


def cmd_align(args) -> int:
    pairs: dict = {}
    for path in args.pairs or []:
        for lang, (en, xx) in read_pairs(path, limit=args.limit).items():
            pairs.setdefault(lang, ([], []))
            pairs[lang][0].extend(en)
            pairs[lang][1].extend(xx)
    if args.flores:
        if not args.languages:
            raise InputError("align: --flores needs --languages, e.g. --languages zh,ar")
        en = flores_lines(args.flores, "en", args.split)[: args.limit]
        for code in args.languages.split(","):
            lang = canonical(code.strip())
            pairs[lang] = (en, flores_lines(args.flores, lang, args.split)[: args.limit])
    if not pairs:
        raise InputError("align: give --pairs FILE or --flores DIR --languages ...")

    plot_path = args.plot or str(Path(args.output).with_suffix(".png"))
    check_output(args.output, [*(args.pairs or []), args.model])
    check_output(plot_path, [*(args.pairs or []), args.model, args.output], option="--plot")
    frame = alignment(args.model, pairs, batch_size=args.batch_size)

    with atomic_write(args.output) as fh:
        frame.to_csv(fh, index=False)
    plot = args.plot or str(Path(args.output).with_suffix(".png"))
    plot_alignment(frame, plot)
    log.info("wrote %s and %s", args.output, plot)
    return 0
