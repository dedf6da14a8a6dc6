"""COMET (unbabel-comet 2.2.7) from a local checkpoint or, where a hub is reachable, a model name.

``model`` may be

* a checkpoint file (``.../checkpoints/model.ckpt``, with ``hparams.yaml`` one folder up, as
  comet lays it out),
* a model directory holding ``checkpoints/model.ckpt`` (what ``comet.download_model`` leaves,
  e.g. a copy of Unbabel/wmt22-comet-da), or
* a hub name such as ``"Unbabel/wmt22-comet-da"``, which is downloaded through comet (needs
  network, or the model already in the Hugging Face cache).

Loading a checkpoint rebuilds the encoder from its ``pretrained_model`` hyper-parameter
(``xlm-roberta-large`` for wmt22-comet-da): only its config and tokenizer are read, never its
weights, and with ``local_files_only=True`` (the default) they must already be on disk (the HF
cache, or a local directory named in hparams.yaml). The score is comet's system score (mean of
segment scores) times 100, so it matches the 0..100 scale of budgetlaw's ceiling;
``segments`` holds the per-segment scores on the same scale.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from tuning.errors import InputError
from tuning.metrics.base import Metric, MetricScore, check_parallel

log = logging.getLogger(__name__)

DEFAULT_MODEL = "Unbabel/wmt22-comet-da"
_CACHE: dict[tuple[str, bool], object] = {}


def resolve_checkpoint(model: str | Path) -> Path | None:
    """The checkpoint file for a local ``model`` path, or None when ``model`` is not on disk."""
    path = Path(model).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        candidate = path / "checkpoints" / "model.ckpt"
        if candidate.is_file():
            return candidate
        found = sorted(path.glob("checkpoints/*.ckpt"))
        if found:
            return found[0]
        raise InputError(
            f"comet: {path} is a directory without checkpoints/model.ckpt; pass a COMET model "
            "directory (hparams.yaml + checkpoints/model.ckpt) or the .ckpt file itself"
        )
    return None


def looks_like_path(model) -> bool:
    """A hub name is exactly ``org/name``; anything else with a slash, or a .ckpt, is a path."""
    text = str(model)
    return (text.startswith((".", "/", "~")) or text.count("/") > 1 or text.endswith(".ckpt")
            or "\\" in text)


def load_comet(model: str | Path = DEFAULT_MODEL, *, local_files_only: bool = True):
    """Load (once per process) and return a comet model in eval mode."""
    key = (str(model), local_files_only)
    if key in _CACHE:
        return _CACHE[key]
    from comet import download_model, load_from_checkpoint

    checkpoint = resolve_checkpoint(model)
    if checkpoint is None and looks_like_path(model):
        raise InputError(f"comet: {model}: no such file or folder; pass a COMET model directory "
                         "(holding checkpoints/model.ckpt) or a .ckpt file")
    if checkpoint is None:
        if "/" not in str(model):
            raise InputError(
                f"comet: model {model!r} is neither a local path nor a hub name like "
                f"{DEFAULT_MODEL!r}; pass the model directory"
            )
        try:
            checkpoint = Path(download_model(str(model)))
        except Exception as exc:  # the hub is unreachable: say what to do instead
            raise InputError(
                f"comet: could not fetch {model!r} from the hub ({type(exc).__name__}: {exc}); "
                "copy the model directory to this machine and pass its path"
            ) from exc
    try:
        loaded = load_from_checkpoint(str(checkpoint), local_files_only=local_files_only)
    except OSError as exc:
        raise InputError(
            f"comet: could not load {checkpoint}: {exc}. The encoder's config and tokenizer "
            "(hparams.yaml 'pretrained_model') must be in the Hugging Face cache or a local path"
        ) from exc
    loaded.eval()
    _CACHE[key] = loaded
    return loaded


def _corpus_comet(
    srcs: Sequence[str],
    hyps: Sequence[str],
    refs: Sequence[str] | None,
    model: str | Path = DEFAULT_MODEL,
    *,
    batch_size: int = 16,
    gpus: int | None = None,
    progress: bool = False,
    local_files_only: bool = True,
) -> MetricScore:
    """Corpus COMET of ``hyps`` given sources and references (refs None for QE models).

    ``gpus`` None uses one GPU when CUDA is available, else the CPU.
    """
    import torch

    if refs is None:
        n = check_parallel("comet", sources=srcs, hypotheses=hyps)
        samples = [{"src": s, "mt": h} for s, h in zip(srcs, hyps)]
    else:
        n = check_parallel("comet", sources=srcs, hypotheses=hyps, references=refs)
        samples = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(srcs, hyps, refs)]
    if gpus is None:
        gpus = 1 if torch.cuda.is_available() else 0
    scorer = load_comet(model, local_files_only=local_files_only)
    out = scorer.predict(
        samples, batch_size=batch_size, gpus=gpus, progress_bar=progress, num_workers=0
    )
    segments = tuple(100.0 * float(s) for s in out.scores)

    return MetricScore("COMET", sum(segments) / n, comet_signature(model, refs is not None), n, "", segments)


def comet_signature(model: str | Path, with_refs: bool = True) -> str:
    """The signature of a COMET score: the model's short name, references or not, scale, version."""
    import importlib.metadata

    import comet as comet_pkg

    # the installed version, never a constant: a signature must change when comet does
    version = getattr(comet_pkg, "__version__", None) or importlib.metadata.version("unbabel-comet")
    name = str(model) if resolve_checkpoint(model) is None else _model_name(model)
    return f"model:{name}|refs:{'yes' if with_refs else 'no'}|scale:x100|version:{version}"


def _model_name(model: str | Path) -> str:
    """A short name for the signature: the model directory's name, not the whole path."""
    path = Path(model)
    if path.is_file():  # .../NAME/checkpoints/model.ckpt
        return path.parents[1].name
    return path.name


class Comet(Metric):
    """Corpus COMET x100 with a given model (a local directory or checkpoint; see the module doc)."""

    name = "comet"
    needs_sources = True

    def __init__(self, model: str | Path = DEFAULT_MODEL, *, batch_size: int = 16, gpus: int | None = None,
                 progress: bool = False, local_files_only: bool = True):
        self.model, self.batch_size, self.gpus = model, batch_size, gpus
        self.progress, self.local_files_only = progress, local_files_only

    def corpus_score(self, hypotheses, references, *, language, sources=None) -> MetricScore:
        """``references`` None scores without references (for QE models); ``gpus`` None uses one
        GPU when CUDA is available, else the CPU."""
        if sources is None:
            raise InputError("comet: needs the source of every segment")
        return _corpus_comet(sources, hypotheses, references, self.model, batch_size=self.batch_size, gpus=self.gpus,
                             progress=self.progress, local_files_only=self.local_files_only)

    def signature(self, language: str) -> str:
        return comet_signature(self.model)

    def __repr__(self) -> str:
        return f"Comet({str(self.model)!r}, batch_size={self.batch_size})"

