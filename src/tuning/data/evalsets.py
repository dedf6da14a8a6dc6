"""Evaluation sets: FLORES-101/200 directories and SQuAD-format QA files (XQuAD, MLQA).

FLORES: a directory with ``dev/`` and/or ``devtest/``, one file per language with one sentence
per line, all files of a split line-aligned. File names are ``<code>.<split>``: FLORES-101
``eng.dev``, ``zho_simpl.devtest``; FLORES-200 ``eng_Latn.dev``, ``zho_Hans.devtest``. Any
spelling :func:`tuning.languages.canonical` knows is matched, so ``zh`` finds either. The path
may also be a split directory itself (``flores101_dataset/devtest``).

SQuAD format (SQuAD 1.1/2.0, XQuAD, MLQA)::
    {"data": [{"title": "...", "paragraphs": [{"context": "...",
        "qas": [{"id": "...", "question": "...", "answers": [{"text": "...", "answer_start": 0}]}]}]}]}

:func:`read_squad` returns one record per question: ``{"id", "title", "context", "question",
"answers": [str, ...], "answer_starts": [int, ...]}`` (answers may be empty for SQuAD 2.0's
unanswerable questions).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from budgetlaw.fileio import read_json
from tuning.data.pairs import Pair, read_plaintext
from tuning.errors import InputError
from tuning.languages import canonical
from tuning.data.reading import iter_lines

__all__ = ["FLORES_SPLITS", "find_flores", "flores_pairs", "read_flores", "flores_sentences",
           "read_squad", "squad_texts"]

FLORES_SPLITS = ("dev", "devtest")


def _split_dirs(root: Path, split: str | Sequence[str] | None) -> list[tuple[str, Path]]:
    wanted = FLORES_SPLITS if split is None else (split,) if isinstance(split, str) else tuple(split)
    for s in wanted:
        if s not in FLORES_SPLITS:
            raise InputError(f"FLORES split {s!r} is not one of {', '.join(FLORES_SPLITS)}")
    if root.name in FLORES_SPLITS:
        return [(root.name, root)] if root.name in wanted else []
    return [(s, root / s) for s in wanted if (root / s).is_dir()]


def _language_file(split_dir: Path, split: str, language: str) -> Path | None:
    for path in sorted(split_dir.glob(f"*.{split}")):
        try:
            if canonical(path.stem) == language:
                return path
        except InputError:
            continue
    return None


def find_flores(root, language: str, split: str | Sequence[str] | None = None) -> list[Path]:
    """``[eng_file, xx_file, ...]`` per split found (dev then devtest); InputError if none."""
    root = Path(root)
    language = canonical(language)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory; a FLORES path is the dataset directory")
    files: list[Path] = []
    splits = _split_dirs(root, split)
    if not splits:
        raise InputError(f"{root}: no dev/ or devtest/ directory; is this a FLORES dataset "
                         "(flores101_dataset/ or flores200_dataset/)?")
    for name, split_dir in splits:
        en = _language_file(split_dir, name, "en")
        xx = _language_file(split_dir, name, language)
        for lang, found in (("en", en), (language, xx)):
            if found is None:
                raise InputError(f"{split_dir}: no file for {lang} (expected e.g. "
                                 f"{'eng' if lang == 'en' else lang}.{name}); check the language")
        files += [en, xx]
    return files


def flores_pairs(files: Sequence[Path]) -> Iterator[Pair]:
    """Pairs from ``[en, xx, en, xx, ...]`` as returned by :func:`find_flores`."""
    for i in range(0, len(files), 2):
        yield from read_plaintext(files[i], files[i + 1])


def read_flores(root, language: str, split: str | Sequence[str] | None = None) -> list[Pair]:
    """All ``Pair(en, xx, origin)`` of the given split(s) (both when ``split`` is None)."""
    return list(flores_pairs(find_flores(root, language, split)))


def flores_sentences(root, language: str, split: str = "devtest") -> list[str]:
    """The sentences of one language in one split, in file order."""
    root = Path(root)
    language = canonical(language)
    (name, split_dir), = _split_dirs(root, split) or [(split, root / split)]
    path = _language_file(split_dir, name, language) if split_dir.is_dir() else None
    if path is None:
        raise InputError(f"{root}: no {split} file for {language} in {split_dir}")

    return [text for _, text in iter_lines(path)]


def _need(obj, key, kind, where, path):
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(f"{path}: {where}: missing {key!r}; SQuAD format needs "
                         "data[].paragraphs[].qas[] with id, question, answers")
    value = obj[key]
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise InputError(f"{path}: {where}: {key!r} must be a {names}")
    return value


def _squad_json_error(path: Path, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"{path}: cannot open ({exc.strerror}); check the path"
    if isinstance(exc, UnicodeDecodeError):
        return f"{path}: not UTF-8; convert the file to UTF-8"
    if isinstance(exc, json.JSONDecodeError):
        return f"{path}, line {exc.lineno}: malformed JSON ({exc.msg})"
    return f"{path}: JSON nested too deeply to read; give a SQuAD-format file"


def read_squad(path) -> list[dict]:
    """One record per question of a SQuAD-format JSON file (see the module docstring)."""
    path = Path(path)
    doc = read_json(path, error=InputError, message=lambda exc: _squad_json_error(path, exc))
    records = []
    seen = set()
    for a, article in enumerate(_need(doc, "data", list, "top level", path)):
        title = article.get("title", "") if isinstance(article, dict) else ""
        for p, para in enumerate(_need(article, "paragraphs", list, f"data[{a}]", path)):
            where = f"data[{a}].paragraphs[{p}]"
            context = _need(para, "context", str, where, path)
            for q, qa in enumerate(_need(para, "qas", list, where, path)):
                w = f"{where}.qas[{q}]"
                qid = str(_need(qa, "id", (str, int), w, path))
                if qid in seen:
                    raise InputError(f"{path}: {w}: duplicate question id {qid!r}; ids must be unique")
                seen.add(qid)
                answers = _need(qa, "answers", list, w, path)
                texts, starts = [], []
                for ans in answers:
                    texts.append(_need(ans, "text", str, f"{w}.answers", path))
                    starts.append(int(ans.get("answer_start", -1)))
                records.append({
                    "id": qid, "title": title, "context": context,
                    "question": _need(qa, "question", str, w, path),
                    "answers": texts, "answer_starts": starts,
                })
    if not records:
        raise InputError(f"{path}: no questions found; is this a SQuAD-format file?")
    return records


def squad_texts(path) -> Iterator[str]:
    """The contexts and questions of a SQuAD file: the texts a mixture must not contain."""
    contexts = set()
    for record in read_squad(path):
        if record["context"] not in contexts:
            contexts.add(record["context"])
            yield record["context"]
        yield record["question"]
