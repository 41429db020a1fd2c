"""The layers of docs/architecture.md, kept: each package imports only the ones below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "parley"

# What each package may import besides itself (docs/architecture.md, "Layers").
ALLOWED = {
    "audio": set(),
    "providers": {"audio", "config"},
    "engine": {"audio", "providers"},
    "dialects": {"audio", "engine", "providers", "validation"},
    "store": {"config", "credentials"},
    "knowledge": set(),
    "bus": {"config"},
}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "parley" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    wrong = {
        str(path.relative_to(SRC)): sorted(imported_packages(path) - ALLOWED[package] - {package})
        for path in sorted((SRC / package).rglob("*.py"))
    }
    assert not {name: found for name, found in wrong.items() if found}
