"""The rules index: every action, cause and flag of billbridge.model is decided in exactly one rule file
(named for what it decides), every rule file opens with the billing rules it implements and has a test
file of its own with real tests; and the library never imports streamlit and has no import cycle."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from billbridge import model
from billbridge.plan import engine

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib" / "billbridge"
RULES_DIR = LIB / "rules"
#: modules of billbridge/rules that are not rule files (the SQL vocabulary the rules share)
NOT_RULES = {"__init__", "sql"}
CODES = {"action": tuple(model.ACTIONS), "cause": tuple(model.CAUSES), "flag": tuple(model.FLAGS)}
#: cycles known and owned elsewhere (each with why it is still there); everything else must be acyclic
KNOWN_CYCLES: dict[frozenset[str], str] = {}  # none: a cycle is a bug to fix, not to list


def rule_modules():
    names = sorted(p.stem for p in RULES_DIR.glob("*.py") if p.stem not in NOT_RULES)
    return [importlib.import_module(f"billbridge.rules.{n}") for n in names]


def test_every_rule_file_is_part_of_the_engine():
    assert {m.__name__ for m in rule_modules()} == {m.__name__ for m in engine.RULES}
    assert set(engine.STEPS) <= set(engine.RULES)


@pytest.mark.parametrize("kind", sorted(CODES))
def test_every_code_is_decided_in_exactly_one_rule_file(kind):
    deciders: dict[str, list[str]] = {}
    for m in rule_modules():
        for code in m.DECIDES:
            deciders.setdefault(code, []).append(m.__name__)
    for code in CODES[kind]:
        assert len(deciders.get(code, [])) == 1, f"{kind} {code!r} is decided in {deciders.get(code, [])}"


def test_a_rule_file_decides_only_known_codes_and_names_each_of_them():
    known = {c for codes in CODES.values() for c in codes}
    for m in rule_modules():
        text = Path(m.__file__).read_text()
        for code in m.DECIDES:
            assert code in known, f"{m.__name__} decides {code!r}, which billbridge.model does not list"
            assert re.search(rf"\b{code}\b", text.split('"""', 2)[2]), f"{code!r} is not in {m.__name__}'s code"


def test_every_rule_file_opens_with_the_billing_rules_it_implements():
    for m in rule_modules():
        doc = m.__doc__ or ""
        assert re.search(r"\*\*(Rule \d|Section \d|Rules \d)", doc), f"{m.__name__} does not quote a billing rule"


@pytest.mark.parametrize("module", [m.__name__.rsplit(".", 1)[1] for m in rule_modules()])
def test_every_rule_file_has_a_test_file_with_real_tests(module):
    path = ROOT / "tests" / "rules" / f"test_{module}.py"
    assert path.exists(), f"rules/{module}.py has no tests/rules/test_{module}.py"
    tree = ast.parse(path.read_text())
    tests = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name.startswith("test_")]
    assert tests and all(any(isinstance(n, ast.Assert) for n in ast.walk(f)) or "raises" in ast.unparse(f)
                         for f in tests), f"tests/rules/test_{module}.py has a test without an assertion"


# ---------------------------------------------------------------------------------------- imports
def _module_name(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in LIB.rglob("*.py")}


def _type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" or (
        isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every billbridge module ``name`` imports, at the top or inside a function (not for type checking).
    ``from pkg import sub`` counts as importing ``pkg.sub`` when that is a module, as import linters do."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                out.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + ([base] if base else []))
                for alias in child.names:
                    out.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in out if m in known and m != name}


def test_the_library_never_imports_streamlit():
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m == "streamlit" or m.startswith("streamlit.") for m in imported), name


def test_the_library_has_no_import_cycle():
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(path, name, known) for name, path in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                if frozenset(cycle) not in KNOWN_CYCLES:
                    pytest.fail("import cycle: " + " -> ".join(cycle))
                continue
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
