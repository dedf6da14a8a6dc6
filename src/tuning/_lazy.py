"""Lazy package attributes: names load their module on first use, so `import tuning` and its
sub-packages stay cheap (no torch, no comet) until something is actually called."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_attributes(package: str, names: Mapping[str, str], namespace: dict,
                    modules: tuple[str, ...] = ()) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package``: ``names`` maps attribute -> module.

    An attribute is the module's attribute of the same name, or, for the names listed in
    ``modules``, the module itself. The value is cached in ``namespace`` (the package's
    globals()), so each name is looked up once. Keep function names distinct from submodule
    names: importing a submodule binds its name on the package, which would hide a function.
    """

    def __getattr__(name: str):
        module_name = names.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(module_name)
        value = module if name in modules else getattr(module, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
