"""The layering of the design (the project's design notes, DESIGN.md "The two packages", kept
outside this repository): budgetlaw never needs torch or tuning; tuning loads torch late;
budgetlaw's modules import each other without cycles, and the pipeline's stages only in the
order fitting -> allocation -> reporting.

The import checks run in a fresh interpreter, because this pytest process may already have
imported torch for other tests (sys.modules would then prove nothing).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUDGETLAW_SRC = ROOT / "src" / "budgetlaw"
HEAVY = ("torch", "transformers", "comet", "sacrebleu", "tokenizers")
# budgetlaw may use none of these: the heavy ML stack, or the package built on top of it.
FORBIDDEN_IN_BUDGETLAW = (*HEAVY, "tuning")


def _python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )


def _loaded_after(statements: str) -> set[str]:
    """Top-level package names in sys.modules after running `statements` in a new interpreter."""
    code = (
        "import json, sys\n"
        f"{statements}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _budgetlaw_modules() -> list[str]:
    names = []
    for path in sorted(BUDGETLAW_SRC.rglob("*.py")):
        parts = path.relative_to(BUDGETLAW_SRC.parent).with_suffix("").parts
        if parts[-1] == "__main__":
            continue  # running it would start the CLI
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


def test_budgetlaw_module_list_is_complete():
    # A guard for the tests below: they must see the modules the package really has.
    names = _budgetlaw_modules()
    for expected in ("budgetlaw", "budgetlaw.fitting", "budgetlaw.fitting.engine", "budgetlaw.allocation",
                     "budgetlaw.allocation.exact", "budgetlaw.reporting", "budgetlaw.reporting.plots",
                     "budgetlaw.cli"):
        assert expected in names


def _import_graph() -> dict[str, set[str]]:
    """module -> the budgetlaw modules it imports, anywhere in its source (functions and
    TYPE_CHECKING blocks included: a cycle hidden there is still a cycle of ideas).

    ``import a.b`` and ``from a.b import c`` point at a.b, or at a.b.c when c is a module: a
    package's __init__ is not counted as imported by its own submodules' sibling imports, as
    Python runs it once, before any of them.
    """
    modules = set(_budgetlaw_modules()) | {"budgetlaw.__main__"}
    graph: dict[str, set[str]] = {}
    for path in sorted(BUDGETLAW_SRC.rglob("*.py")):
        parts = path.relative_to(BUDGETLAW_SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if parts[-1] == "__init__" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import: resolve against this module's package
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_cycle_finder_finds_a_cycle():
    # The check below is only as good as this search: a planted cycle must be found.
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_budgetlaw_imports_form_no_cycle():
    graph = _import_graph()
    # sanity: the graph holds the imports the package is built from, so the check is not vacuous
    assert "budgetlaw.allocation.problem" in graph["budgetlaw.allocation.optimise"]
    assert "budgetlaw.allocation.problem" in graph["budgetlaw.allocation.convex"]  # its TYPE_CHECKING import
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


@pytest.mark.parametrize(
    ("stage", "later"),
    [("budgetlaw.fitting", ("budgetlaw.allocation", "budgetlaw.reporting", "budgetlaw.cli")),
     ("budgetlaw.allocation", ("budgetlaw.fitting", "budgetlaw.reporting", "budgetlaw.cli"))],
)
def test_a_stage_never_imports_a_later_one(stage, later):
    # pilots -> fitting -> laws.json -> allocation -> plan.json -> reporting: a stage reads the
    # files of the stages before it, never the code of the ones after it (allocation takes any
    # law with K, c and a ceiling, fitted or not)
    graph = _import_graph()
    offenders = sorted(f"{module} -> {target}" for module, targets in graph.items()
                       if module == stage or module.startswith(stage + ".")
                       for target in targets if any(target == s or target.startswith(s + ".") for s in later))
    assert offenders == []


def test_importing_every_budgetlaw_module_loads_no_torch_or_tuning():
    imports = "\n".join(f"import {name}" for name in _budgetlaw_modules())
    loaded = _loaded_after(imports)
    assert not loaded & set(FORBIDDEN_IN_BUDGETLAW), sorted(loaded & set(FORBIDDEN_IN_BUDGETLAW))
    # sanity: the imports did load budgetlaw's own dependencies, so the check is not vacuous
    assert {"budgetlaw", "numpy", "pandas"} <= loaded


def test_budgetlaw_lazy_names_load_no_torch_or_tuning():
    # The lazy attributes of `budgetlaw` (bl.fit, bl.report, ...) are what users touch first.
    code = "import budgetlaw as bl\nfor n in bl.__all__: getattr(bl, n)"
    loaded = _loaded_after(code)
    assert not loaded & set(FORBIDDEN_IN_BUDGETLAW), sorted(loaded & set(FORBIDDEN_IN_BUDGETLAW))


def test_budgetlaw_source_never_imports_torch_or_tuning_even_inside_functions():
    # Importing a module runs only its top level; a function-level `import torch` would slip
    # past the check above, so read every import statement of the source too.
    offenders = []
    for path in sorted(BUDGETLAW_SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in FORBIDDEN_IN_BUDGETLAW:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {target}")
        for call in ast.walk(tree):
            # importlib.import_module("torch") would hide from the statement scan
            if (
                isinstance(call, ast.Call)
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
                and call.args[0].value.split(".")[0] in FORBIDDEN_IN_BUDGETLAW
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}: {call.args[0].value!r}")
    assert offenders == []


def test_import_tuning_alone_loads_no_torch():
    loaded = _loaded_after("import tuning")
    assert "tuning" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_tuning_cli_parser_loads_no_torch():
    # The contract: the sub-command modules import torch inside their commands, so building the
    # whole parser (what `tuning --help` does) stays light.
    loaded = _loaded_after("import tuning.cli\ntuning.cli.build_parser()")
    assert {"tuning", "budgetlaw"} & loaded
    assert not loaded & {"torch", "transformers", "comet"}, sorted(
        loaded & {"torch", "transformers", "comet"}
    )


def _console_script(name: str) -> str:
    script = Path(sys.executable).with_name(name)
    if not script.exists():
        pytest.skip(f"console script {name} is not installed beside {sys.executable}")
    return str(script)


@pytest.mark.parametrize(
    ("name", "subcommands"),
    [
        ("budgetlaw", ("fit", "allocate", "report", "demo")),
        ("tuning", ("mix", "tokens", "train", "generate", "eval", "pilots", "align")),
    ],
)
def test_help_exits_zero_and_lists_the_subcommands(name, subcommands):
    for argv in ([_console_script(name), "--help"], [sys.executable, "-m", name, "--help"]):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        for sub in subcommands:
            assert sub in proc.stdout, f"{' '.join(argv)} does not list {sub!r}"
        assert "Traceback" not in proc.stderr


def _package_modules(package: str) -> list[str]:
    src = ROOT / "src" / package
    names = []
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src.parent).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.parametrize("package", ["budgetlaw", "tuning", "tuning.metrics", "tuning.data"])
def test_public_functions_stay_functions_after_every_submodule_is_imported(package):
    # Importing a submodule binds its name on the parent package: a public function that
    # shares its name with a submodule (bl.fit vs budgetlaw/fit.py, tuning.metrics.comet vs
    # metrics/comet.py) would silently turn into that module. Import everything first, then
    # ask for every lazy name.
    top = package.split(".")[0]
    imports = "\n".join(f"import {name}" for name in _package_modules(top))
    code = (
        f"{imports}\n"
        "import importlib, json, types\n"
        f"pkg = importlib.import_module({package!r})\n"
        "print(json.dumps({name: isinstance(getattr(pkg, name), types.ModuleType) for name in pkg._LAZY}))\n"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    is_module = json.loads(proc.stdout.strip().splitlines()[-1])
    expected_modules = {"budgetlaw": {"baselines"}, "tuning": {"metrics", "languages", "prompts"}}.get(package, set())
    assert {name for name, module in is_module.items() if module} == expected_modules
