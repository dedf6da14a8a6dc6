"""How well a model's layers align English sentences with their translations.

For each layer l (0 = embeddings) a sentence's representation is the masked mean of its token
states, padding excluded:  r_l = sum_t m_t h_{l,t} / sum_t m_t.  For N parallel pairs
(English e_i, translation f_i) and cosine similarity S_ij = cos(f_i, e_j):

* retrieval accuracy: the share of i with argmax_j S_ij = i, averaged over both directions
  (translation -> English and English -> translation);
* cos_translation = mean_i S_ii; cos_other = mean_{i != j} S_ij; gap = their difference.

alignment.csv columns: ``language, layer, n, retrieval, retrieval_xx_en, retrieval_en_xx,
cos_translation, cos_other, gap``. Pairs files (JSONL): one object per line with ``language``,
``en`` and ``text`` (the translation).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tuning.errors import InputError
from tuning.data.reading import iter_jsonl
from tuning.languages import canonical
from budgetlaw.fileio import atomic_paths
from tuning.generation import load_model

log = logging.getLogger(__name__)

ALIGN_COLUMNS = ["language", "layer", "n", "retrieval", "retrieval_xx_en", "retrieval_en_xx",
                 "cos_translation", "cos_other", "gap"]


def sentence_representations(model, tokenizer, sentences: Sequence[str], *, batch_size: int = 16,
                             max_tokens: int = 256) -> np.ndarray:
    """Array (layers + 1, n, hidden) of masked-mean token states, float32, in input order."""
    import torch

    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token  # masked out below, never seen by the mean
    # Right padding: a causal model's real tokens never attend to the pads after them, and
    # positions count from 0 in every row, so each sentence is encoded as if it were alone.
    if tokenizer.padding_side != "right":
        raise InputError("sentence_representations needs tokenizer.padding_side == 'right'")
    device = next(model.parameters()).device
    model.eval()
    out = None
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))  # less padding
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = tokenizer([sentences[i] for i in idx], return_tensors="pt", padding=True,
                        truncation=True, max_length=max_tokens)
        mask = enc["attention_mask"].to(device)
        with torch.inference_mode():
            states = model(input_ids=enc["input_ids"].to(device), attention_mask=mask,
                           output_hidden_states=True).hidden_states
        m = mask.unsqueeze(-1).to(states[0].dtype)
        pooled = torch.stack([(h * m).sum(1) / m.sum(1).clamp(min=1) for h in states])
        pooled = pooled.float().cpu().numpy()
        if out is None:
            out = np.zeros((pooled.shape[0], len(sentences), pooled.shape[2]), dtype=np.float32)
        out[:, idx, :] = pooled
    if out is None:
        raise InputError("sentence_representations: no sentences given")
    return out


def alignment_scores(xx: np.ndarray, en: np.ndarray) -> dict:
    """Scores for one layer: ``xx[i]`` is the translation of ``en[i]`` (arrays n x hidden)."""
    n = xx.shape[0]
    if n < 2 or en.shape != xx.shape:
        raise InputError(f"alignment needs at least 2 pairs of equal shape, got {xx.shape} and {en.shape}")
    a = xx / np.maximum(np.linalg.norm(xx, axis=1, keepdims=True), 1e-12)
    b = en / np.maximum(np.linalg.norm(en, axis=1, keepdims=True), 1e-12)
    sim = a @ b.T
    diag = np.diag(sim)
    off = (sim.sum() - diag.sum()) / (n * n - n)
    xx_en = float(np.mean(sim.argmax(axis=1) == np.arange(n)))
    en_xx = float(np.mean(sim.argmax(axis=0) == np.arange(n)))
    return {"n": n, "retrieval": (xx_en + en_xx) / 2, "retrieval_xx_en": xx_en,
            "retrieval_en_xx": en_xx, "cos_translation": float(diag.mean()),
            "cos_other": float(off), "gap": float(diag.mean() - off)}


def alignment(model_or_dir, pairs: Mapping[str, tuple[Sequence[str], Sequence[str]]], *,
              tokenizer=None, batch_size: int = 16, max_tokens: int = 256):
    """DataFrame (columns :data:`ALIGN_COLUMNS`) for ``pairs``: language -> (english, translations)."""
    import pandas as pd

    if isinstance(model_or_dir, (str, Path)):
        model, tokenizer = load_model(model_or_dir, dtype="float32")
    else:
        model = model_or_dir
    if tokenizer is None:
        raise InputError("alignment: pass tokenizer= together with an already-loaded model")
    tokenizer.padding_side = "right"
    rows = []
    for lang, (english, translated) in sorted(pairs.items()):
        if len(english) != len(translated):
            raise InputError(f"alignment {lang}: {len(english)} English vs {len(translated)} translated sentences")
        en_reps = sentence_representations(model, tokenizer, list(english), batch_size=batch_size, max_tokens=max_tokens)
        xx_reps = sentence_representations(model, tokenizer, list(translated), batch_size=batch_size, max_tokens=max_tokens)
        for layer in range(en_reps.shape[0]):
            rows.append({"language": lang, "layer": layer, **alignment_scores(xx_reps[layer], en_reps[layer])})
        log.info("%s: best retrieval %.3f", lang, max(r["retrieval"] for r in rows if r["language"] == lang))
    return pd.DataFrame(rows, columns=ALIGN_COLUMNS)


def read_pairs(path: str | Path, *, limit: int | None = None) -> dict[str, tuple[list[str], list[str]]]:
    """A pairs JSONL file -> {language: (english, translations)} (first ``limit`` per language)."""

    path = Path(path)
    if not path.is_file():
        raise InputError(f"pairs file {path} does not exist")
    out: dict[str, tuple[list[str], list[str]]] = {}
    for lineno, rec in iter_jsonl(path):
        try:
            lang, en, text = canonical(str(rec["language"])), rec["en"], rec["text"]
        except KeyError as exc:
            raise InputError(f"{path}, line {lineno}: missing key {exc}; need language, en, text") from None
        english, translated = out.setdefault(lang, ([], []))
        if limit is None or len(english) < limit:
            english.append(str(en))
            translated.append(str(text))
    if not out:
        raise InputError(f"pairs file {path} is empty")
    return out


def plot_alignment(frame, path: str | Path) -> Path:
    """PNG with retrieval accuracy and cosine gap by layer, one line per language."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator


    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for lang, group in frame.groupby("language", sort=True):
        ax1.plot(group["layer"], group["retrieval"], marker="o", label=lang)
        ax2.plot(group["layer"], group["gap"], marker="o", label=lang)
    n = int(frame["n"].max())
    ax1.axhline(1.0 / max(n, 1), color="grey", linestyle=":", label="chance")
    ax1.set(xlabel="layer (0 = embeddings)", ylabel="retrieval accuracy", ylim=(0, 1.02),
            title=f"Translation retrieval among {n} pairs (both directions)")
    ax2.axhline(0.0, color="grey", linestyle=":")
    ax2.set(xlabel="layer (0 = embeddings)", ylabel="cos(translation) - cos(other)",
            title="Cosine gap")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.legend(fontsize=8)
    path = Path(path)
    with atomic_paths(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path
