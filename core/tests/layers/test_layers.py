"""The core's layers (docs/architecture.md) hold: lower layers never import higher ones.

The contract itself is the import-linter ``layers`` contract in the root pyproject.toml; this
runs it in the test suite, checks that every module of ``flyte`` is assigned a layer, that the
checker sees imports inside functions, and that nobody reaches a higher layer through the lazy
attributes of the ``flyte`` package (``from flyte import run``), which import-linter cannot see.
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import flyte
import importlinter  # noqa: F401  (requirements-dev.txt: the layer check must run, not skip)

ROOT = Path(__file__).resolve().parents[3]
PYPROJECT = ROOT / "pyproject.toml"
SRC = Path(flyte.__file__).resolve().parent


def _layers() -> list[list[str]]:
    """The layers, top first, each a list of module names."""
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["id"] == "layers"]
    return [[m.strip().strip("()") for m in layer.replace("|", ":").split(":")] for layer in contract["layers"]]


def _layer_of(module: str, layers: list[list[str]]) -> int | None:
    """Height of ``module``'s layer (0 = bottom), or None if no layer names it."""
    for i, layer in enumerate(reversed(layers)):
        if any(module == m or module.startswith(m + ".") for m in layer):
            return i
    return None


def _lint(config: Path, cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        "from importlinter.cli import lint_imports\n"
        f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(extra_path)} if extra_path is not None else None
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_layer_contract_is_kept() -> None:
    r = _lint(PYPROJECT, ROOT)
    assert r.returncode == 0, f"a lower layer imports a higher one (see docs/architecture.md):\n{r.stdout}{r.stderr}"


def test_every_module_has_a_layer() -> None:
    layers = _layers()
    names = [m for layer in layers for m in layer]
    assert len(names) == len(set(names)), "a module is named in two layers"
    tops = sorted(
        "flyte." + (p.stem if p.is_file() else p.name)
        for p in SRC.iterdir()
        if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists())
    )
    missing = [m for m in tops if _layer_of(m, layers) is None]
    assert not missing, f"add these modules to a layer in pyproject.toml [tool.importlinter]: {missing}"


def test_imports_inside_functions_are_caught(tmp_path: Path) -> None:
    """The checker must see an import hidden in a function body, not only module-level ones."""
    pkg = tmp_path / "probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "high.py").write_text("X = 1\n")
    (pkg / "low.py").write_text(
        textwrap.dedent(
            """
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from probe.high import X  # annotations only: allowed

            def f() -> int:
                from probe import high

                return high.X
            """
        )
    )
    config = tmp_path / "layers.toml"
    config.write_text(
        textwrap.dedent(
            """
            [tool.importlinter]
            root_package = "probe"
            exclude_type_checking_imports = true

            [[tool.importlinter.contracts]]
            id = "layers"
            name = "probe layers"
            type = "layers"
            layers = ["probe.high", "probe.low"]
            """
        )
    )
    r = _lint(config, tmp_path, extra_path=tmp_path)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "probe.low -> probe.high" in r.stdout, r.stdout
    (pkg / "low.py").write_text("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from probe.high import X\n")
    assert _lint(config, tmp_path, extra_path=tmp_path).returncode == 0


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _lazy_tables() -> dict[str, dict[str, str]]:
    """package -> {attribute: module it is imported from on first use}, for every package with a ``_LAZY`` table."""
    tables: dict[str, dict[str, str]] = {}
    for init in sorted(SRC.rglob("__init__.py")):
        rel = init.parent.relative_to(SRC.parent)
        package = ".".join(rel.parts)
        if "_LAZY" not in init.read_text():
            continue
        mod = importlib.import_module(package)
        table = dict(getattr(mod, "_LAZY", {}))
        table.update({m: f"{package}.{m}" for m in getattr(mod, "_LAZY_MODULES", ())})
        if table:
            tables[package] = table
    return tables


def _lazy_uses(tree: ast.AST, tables: dict[str, dict[str, str]]) -> list[tuple[int, str, str]]:
    """(line, package.name, target module) of each lazy attribute reached outside TYPE_CHECKING:
    ``from <package> import name`` for any package with a table, ``flyte.<name>`` for the root."""
    found: list[tuple[int, str, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_block(child):
                continue
            if isinstance(child, ast.ImportFrom) and not child.level and child.module in tables:
                table = tables[child.module]
                found.extend(
                    (child.lineno, f"{child.module}.{a.name}", table[a.name]) for a in child.names if a.name in table
                )
            elif isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name) and child.value.id == "flyte":
                target = tables["flyte"].get(child.attr)
                if target:
                    found.append((child.lineno, f"flyte.{child.attr}", target))
            visit(child)

    visit(tree)
    return found


def test_no_higher_layer_through_lazy_attributes() -> None:
    """``from flyte import run`` or ``from flyte.plugins import Runtime`` in a low layer imports a higher module
    on first use (the packages' ``__getattr__``): import-linter sees only the package."""
    layers = _layers()
    tables = _lazy_tables()
    assert {"flyte", "flyte.plugins", "flyte.types"} <= set(tables)
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        here = _layer_of(module, layers)
        if module == "flyte" or here is None:
            continue
        for line, name, target in _lazy_uses(ast.parse(path.read_text()), tables):
            there = _layer_of(target, layers)
            if there is not None and there > here:
                bad.append(f"{module}:{line} uses {name} ({target}, a higher layer)")
    assert not bad, "\n".join(bad)


# Modules a lower layer may import inside a function: they load a heavy third-party library, or a
# large table needed only on a rare path, so that only the code that needs them pays for it.
HEAVY = {
    "flyte.types._pydantic": "imports pydantic",
    "flyte._compat": "the table of official SDK names we lack, loaded only when a name is missing",
}
# Modules a lower layer may import inside a function to keep start-up short (issue 9: "in-function imports
# remain only for heavy third-party dependencies and start-up speed"): each is off the path of a plain run, and
# the reason says what loading it up front would cost. benchmarks/README.md has the measurements.
STARTUP = {
    "flyte.types._struct": "dataclass and msgpack-dict transformers: loads msgpack and the msgpack codec",
    "flyte.types._msgpack_codec": "the msgpack codec (and msgpack): only dataclasses, models and msgpack dicts use it",
    "flyte.types._tuples": "tuple and NamedTuple transformers: only for those types",
    "flyte.types._typeddict": "the TypedDict transformer: only for TypedDicts",
    "flyte.types._guess": "guessing a Python type from a literal type: only outputs read without their type",
}
LOWER = ("flyte.errors", "flyte.config", "flyte._lazy", "flyte._syncify", "flyte._compat", "flyte.plugins")
LOWER += ("flyte.storage",)
LOWER += ("flyte.types", "flyte.io")


def _in_function_flyte_imports(path: Path, module: str) -> list[tuple[int, str]]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []

    def target(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        return ".".join([*base, *([node.module] if node.module else [])])

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if in_function and isinstance(child, ast.Import):
                found.extend((child.lineno, a.name) for a in child.names if a.name.split(".")[0] == "flyte")
            elif in_function and isinstance(child, ast.ImportFrom) and target(child).split(".")[0] == "flyte":
                found.append((child.lineno, target(child)))
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return found


def test_lower_layers_import_flyte_modules_at_module_level() -> None:
    """Below authoring, an import of a flyte module hidden in a function is either a cycle to fix
    (move the shared piece down), a heavy dependency (HEAVY) or a module kept off the start-up path of
    every run (STARTUP, each with its reason); anything else is an error."""
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        if not any(module == m or module.startswith(m + ".") for m in LOWER):
            continue
        for line, imported in _in_function_flyte_imports(path, module):
            if imported not in HEAVY and imported not in STARTUP:
                bad.append(f"{module}:{line} imports {imported} inside a function")
    assert not bad, "\n".join(bad)


def test_an_unlisted_import_inside_a_function_is_caught(tmp_path: Path) -> None:
    """The check sees in-function imports (absolute and relative) and only the listed modules pass."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from flyte.types._pickle import PICKLE\n    from . import _struct\n    return PICKLE\n"
    )
    found = _in_function_flyte_imports(probe, "flyte.types.probe")
    assert found == [(2, "flyte.types._pickle"), (3, "flyte.types")]
    assert all(imported not in HEAVY and imported not in STARTUP for _, imported in found)


def test_every_listed_exception_is_used_and_kept_off_the_start_up_path() -> None:
    """Each STARTUP/HEAVY entry is still imported inside a function somewhere below authoring (no stale
    entries), and a STARTUP module is really off the path: the type engine and the interface code every run
    loads do not import it."""
    used: set[str] = set()
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        if any(module == m or module.startswith(m + ".") for m in LOWER):
            used |= {imported for _, imported in _in_function_flyte_imports(path, module)}
    assert set(STARTUP) <= used, f"listed but never imported in a function: {sorted(set(STARTUP) - used)}"
    assert all(reason.strip() for reason in {**HEAVY, **STARTUP}.values())
    code = (
        "import sys, flyte.types._engine, flyte.types.interface, flyte._context\n"
        f"print(sorted(m for m in {sorted(STARTUP)!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"loaded at start-up after all: {out}"
