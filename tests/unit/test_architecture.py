"""The layer contract of docs/architecture.md is checked, not hoped for: import-linter's
contracts (.importlinter), small functions, and a library that never imports its own face."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "impasto"
MAX_LINES = 60  # of code, not counting the docstring


def test_import_contracts_are_kept() -> None:
    """``lint-imports`` (import-linter, a dev dependency) keeps every contract: no layer
    imports a higher one, no shell another, and no package's modules import in a cycle."""
    tool = Path(sys.executable).with_name("lint-imports")
    assert tool.exists(), "import-linter is missing: make install adds it with the dev extra"
    done = subprocess.run(
        [str(tool), "--config", str(ROOT / ".importlinter")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _code_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    assert fn.end_lineno is not None
    lines = fn.end_lineno - fn.lineno + 1
    first = fn.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        assert first.end_lineno is not None
        lines -= first.end_lineno - first.lineno + 1  # the docstring
    return lines


def test_functions_fit_on_a_screen() -> None:
    long = []
    for path in sorted(SRC.rglob("*.py")):
        for fn in _functions(ast.parse(path.read_text())):
            if _code_lines(fn) > MAX_LINES:
                long.append(f"{path.relative_to(SRC)}:{fn.lineno} {fn.name} {_code_lines(fn)}")
    assert long == []


def test_the_library_does_not_import_the_package_face() -> None:
    """``impasto/__init__.py`` re-exports the public API; a module inside the package that
    imported it back would close a cycle through every layer."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.parent == SRC and path.name in ("__init__.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "impasto" and node.level == 0:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []
