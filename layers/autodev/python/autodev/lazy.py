"""Packages whose public names load on first use (PEP 562).

A package lists each public name with the module of its own that defines it; importing the
package imports none of them, and ``from package import name`` imports only that module. A
handler then pays at cold start only for what it uses (issue 18). The package keeps its
``if TYPE_CHECKING:`` imports for type checkers and readers.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: a name in ``where`` is imported from
    ``package.<where[name]>`` the first time it is asked for and kept in the package (later
    lookups do not come here)."""

    def get_name(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def names() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return get_name, names
