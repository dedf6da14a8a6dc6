"""Evaluation tasks: what to ask the model and how to score its answers.

Task specs (``--task`` on the command line), each paired with one ``--data`` path:

``flores:SRC-TGT``  FLORES-101/200 translation, either direction (``flores:en-zh``,
    ``flores:zh-en``). data = the dataset root or a split folder; files are found by language,
    any spelling ``tuning.languages.canonical`` knows (``eng_Latn.devtest``, ``zho_simpl.dev``,
    ``en.devtest``). Metrics: bleu, chrf (chrF++), comet (when a COMET model is given),
    off_target (on the target language).
``xquad:LANG`` / ``mlqa:LANG``  extractive QA in SQuAD v1.1 JSON (``xquad.zh.json``,
    ``test-context-zh-question-zh.json``); data = that file or a folder holding it. Prompts use
    :data:`QA_TEMPLATES` in the question's language. Metrics: qa_em, qa_f1, qa_contains (means,
    x100), off_target.
``jsonl:NAME`` / ``jsonl-qa:NAME``  any JSONL with ``prompt`` (or ``instruction`` [+ ``input``],
    rendered with the Alpaca template), ``reference`` (a string, or a list of answers for
    jsonl-qa), ``language``, optional ``id`` and ``source`` (COMET needs it). Scored per
    language like flores (jsonl) or xquad (jsonl-qa).

The ``language`` of a result is the non-English side of a translation pair (the language whose
data budget the pilots are about), so flores:en-zh and flores:zh-en both report ``zh``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from tuning.data.reading import iter_jsonl
from tuning.errors import InputError
from tuning.languages import canonical
from tuning.prompts import render_chat_prompt, render_prompt
from tuning.data.evalsets import flores_sentences
from tuning.prompts import translation_instruction
from tuning.data.evalsets import read_squad
from tuning.evaluation.results import ResultRow
from tuning.metrics.registry import metrics_for

log = logging.getLogger(__name__)

FAMILIES = ("flores", "xquad", "mlqa", "jsonl", "jsonl-qa")

# Question-answering prompt per language: (instruction, input template with {context}/{question}).
QA_TEMPLATES: dict[str, tuple[str, str]] = {
    "en": ("Answer the question using a short span copied from the passage.",
           "Passage: {context}\nQuestion: {question}"),
    "zh": ("请根据文章，用文章中的一个简短片段回答问题。", "文章：{context}\n问题：{question}"),
    "ar": ("أجب عن السؤال بعبارة قصيرة منقولة من النص.", "النص: {context}\nالسؤال: {question}"),
    "el": ("Απάντησε στην ερώτηση με ένα σύντομο απόσπασμα από το κείμενο.",
           "Κείμενο: {context}\nΕρώτηση: {question}"),
    "hi": ("अनुच्छेद से लिए गए एक छोटे अंश में प्रश्न का उत्तर दीजिए।",
           "अनुच्छेद: {context}\nप्रश्न: {question}"),
    "tr": ("Soruyu metinden alınmış kısa bir ifadeyle yanıtla.", "Metin: {context}\nSoru: {question}"),
    "vi": ("Trả lời câu hỏi bằng một đoạn ngắn lấy từ văn bản.",
           "Văn bản: {context}\nCâu hỏi: {question}"),
    "de": ("Beantworte die Frage mit einem kurzen Abschnitt aus dem Text.",
           "Text: {context}\nFrage: {question}"),
    "es": ("Responde la pregunta con un fragmento breve copiado del texto.",
           "Texto: {context}\nPregunta: {question}"),
}


@dataclasses.dataclass(frozen=True)
class EvalItem:
    """One prompt with what it is scored against. ``reference`` is a tuple of gold answers for QA."""

    id: str
    prompt: str
    reference: str | tuple[str, ...]
    source: str = ""
    language: str = ""


@dataclasses.dataclass(frozen=True)
class Task:
    """A loaded task: ``kind`` is "translation" or "qa"; ``language`` as in the module doc."""

    name: str
    kind: str
    language: str
    target_language: str
    items: tuple[EvalItem, ...]
    data: str

    @property
    def prompts(self) -> list[str]:
        return [item.prompt for item in self.items]


def parse_task(spec: str) -> tuple[str, str]:
    """``"flores:en-zh"`` -> ("flores", "en-zh"), checked against :data:`FAMILIES`."""
    family, sep, arg = spec.partition(":")
    family = family.strip().lower()
    if not sep or family not in FAMILIES or not arg.strip():
        raise InputError(
            f"task {spec!r}: expected FAMILY:ARG with FAMILY one of {', '.join(FAMILIES)} "
            "(e.g. flores:en-zh, xquad:zh, jsonl:mytest)"
        )
    return family, arg.strip()


def _canonical(code: str, where: str) -> str:
    try:
        return canonical(code)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _renderer(tokenizer, chat_template: bool) -> Callable[[str, str], str]:
    if chat_template:
        if tokenizer is None:
            raise InputError("chat_template=True needs the model's tokenizer")
        return lambda instruction, inp: render_chat_prompt(tokenizer, instruction, inp)
    return render_prompt


def flores_lines(data, lang: str, split: str) -> list[str]:
    """One language's FLORES sentences (``tuning.data.evalsets``), with a task-level message."""

    try:
        return flores_sentences(data, lang, split)
    except InputError as exc:
        raise InputError(f"FLORES data: {exc}; point --data at a FLORES folder (flores200_dataset/ "
                         f"or its {split}/ folder) that has {lang}, or fix the task's languages") from None


def load_flores(pair: str, data, *, split="devtest", render=None, limit=None) -> Task:
    src_code, sep, tgt_code = pair.partition("-")
    if not sep:
        raise InputError(f"task flores:{pair}: write the pair as SRC-TGT, e.g. flores:en-zh")
    src, tgt = _canonical(src_code, f"task flores:{pair}"), _canonical(tgt_code, f"task flores:{pair}")
    src_lines = flores_lines(data, src, split)
    tgt_lines = flores_lines(data, tgt, split)
    if len(src_lines) != len(tgt_lines):
        raise InputError(
            f"FLORES data {data}: {src} has {len(src_lines)} lines but {tgt} has {len(tgt_lines)}; "
            "the two files must be line-aligned translations"
        )
    render = render or _renderer(None, False)
    instruction = translation_instruction(src, tgt)
    n = len(src_lines) if limit is None else min(limit, len(src_lines))
    items = tuple(
        EvalItem(f"{i}", render(instruction, src_lines[i]), tgt_lines[i], src_lines[i], tgt)
        for i in range(n)
    )
    language = src if tgt == "en" else tgt
    return Task(f"flores:{src}-{tgt}", "translation", language, tgt, items, str(data))


def _find_squad_file(data: Path, family: str, lang: str) -> Path:
    if data.is_file():
        return data
    if data.is_dir():
        for pattern in (f"xquad.{lang}.json", f"*context-{lang}-question-{lang}.json", f"*{lang}*.json"):
            found = sorted(data.glob(pattern))
            if found:
                return found[0]
        raise InputError(f"{family} data {data}: no JSON file for {lang} (e.g. xquad.{lang}.json) in it")
    raise InputError(f"{family} data {data}: no such file or directory")


def load_squad(family: str, lang_code: str, data, *, render=None, limit=None) -> Task:
    lang = _canonical(lang_code, f"task {family}:{lang_code}")
    path = _find_squad_file(Path(data), family, lang)
    instruction, template = QA_TEMPLATES.get(lang, QA_TEMPLATES["en"])
    render = render or _renderer(None, False)

    records = read_squad(path)
    answerable = [r for r in records if r["answers"]]
    if len(answerable) < len(records):
        log.info("%s: skipping %d unanswerable questions (SQuAD 2.0 style)", path,
                 len(records) - len(answerable))
    if not answerable:
        raise InputError(f"{path}: no question has a gold answer; extractive QA needs answers")
    items = tuple(
        EvalItem(r["id"], render(instruction, template.format(context=r["context"], question=r["question"])),
                 tuple(r["answers"]), r["question"], lang)
        for r in answerable[:limit]
    )
    return Task(f"{family}:{lang}", "qa", lang, lang, items, str(path))


def load_jsonl(family: str, name: str, data, *, render=None, limit=None) -> Task:
    path = Path(data)
    if not path.is_file():
        raise InputError(f"task {family}:{name}: data file {path} does not exist")
    render = render or _renderer(None, False)
    items = []
    first_line: dict[str, int] = {}
    for lineno, rec in iter_jsonl(path):
        where = f"{path}, line {lineno}"
        item_id = str(rec.get("id", lineno))
        if item_id in first_line:
            raise InputError(f"{where}: id {item_id!r} appears again (first on line {first_line[item_id]}); ids "
                             "must be unique (one prediction is scored against one reference)")
        first_line[item_id] = lineno
        try:
            lang = _canonical(str(rec["language"]), where)
            ref = rec["reference"]
        except KeyError as exc:
            raise InputError(f"{where}: missing key {exc}; each line needs language and reference") from None
        prompt = rec.get("prompt")
        if prompt is None:
            if "instruction" not in rec:
                raise InputError(f"{where}: give 'prompt', or 'instruction' (+ 'input')")
            prompt = render(rec["instruction"], rec.get("input", ""))
        refs = tuple(ref) if isinstance(ref, list) else ref
        if family == "jsonl-qa" and isinstance(refs, str):
            refs = (refs,)
        if family == "jsonl" and not isinstance(refs, str):
            raise InputError(f"{where}: 'reference' must be one string for jsonl (lists are for jsonl-qa)")
        items.append(EvalItem(item_id, prompt, refs, str(rec.get("source", "")), lang))
    if not items:
        raise InputError(f"{path}: no records; the file is empty")
    items = items[:limit]
    langs = sorted({it.language for it in items})
    kind = "qa" if family == "jsonl-qa" else "translation"
    return Task(f"{family}:{name}", kind, langs[0] if len(langs) == 1 else "mixed",
                langs[0] if len(langs) == 1 else "mixed", tuple(items), str(path))


def load_task(spec: str, data, *, split: str = "devtest", limit: int | None = None,
              tokenizer=None, chat_template: bool = False) -> Task:
    """Load the task named by ``spec`` from ``data`` (see the module doc)."""
    family, arg = parse_task(spec)
    if data is None:
        raise InputError(f"task {spec}: give its data path (--data)")
    render = _renderer(tokenizer, chat_template)
    if family == "flores":
        return load_flores(arg, data, split=split, render=render, limit=limit)
    if family in ("xquad", "mlqa"):
        return load_squad(family, arg, data, render=render, limit=limit)
    return load_jsonl(family, arg, data, render=render, limit=limit)


def score_task(task: Task, predictions: Sequence[str], *, model: str = "",
               comet_model: str | None = None, comet_batch_size: int = 16,
               extra_signature: str = "") -> list:
    """Result rows (see tuning.evaluation.results) for ``predictions`` in the task's item order.

    One row per language and metric of the task's kind (:func:`tuning.metrics.registry.metrics_for`),
    every score on 0..100. ``extra_signature`` (e.g. the decoding settings) is appended to every
    row's signature.
    """

    predictions = list(predictions)
    if len(predictions) != len(task.items):
        raise InputError(
            f"task {task.name}: {len(predictions)} predictions for {len(task.items)} items; "
            "rerun generation (it resumes) or pass the matching prediction file"
        )
    metrics = metrics_for(task.kind, comet_model=comet_model, comet_batch_size=comet_batch_size)
    suffix = f"|{extra_signature}" if extra_signature else ""
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(task.items):
        groups.setdefault(item.language, []).append(i)
    rows = []
    for lang, idx in sorted(groups.items()):
        hyps = [predictions[i] for i in idx]
        items = [task.items[i] for i in idx]
        refs = [it.reference for it in items]
        srcs = [it.source for it in items]
        report = task.language if task.language != "mixed" else lang
        for metric in metrics:
            if metric.needs_sources and not all(srcs):
                raise InputError(f"task {task.name}: COMET needs a 'source' for every item")
            score = metric.corpus_score(hyps, refs, language=lang, sources=srcs)
            rows.append(ResultRow(report, task.name, metric.name, score.score, score.n,
                                  score.signature + suffix, model))
    return rows
