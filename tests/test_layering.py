"""The package layering of DESIGN.md: classifiers ← mta ← acctpipe, never the other way;
no module reaches into another package's private (``_``) modules or names; and the
subpackages of ``acctpipe`` and ``mta`` import each other without cycles."""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# package → the project packages it may import
ALLOWED = {
    "classifiers": set(),
    "mta": {"classifiers"},
    "acctpipe": {"classifiers", "mta"},
}
PROJECT = set(ALLOWED)
# Top-level folders installed inside a package: migrations/ is acctpipe.migrations.
FOLDERS_OF = {
    "classifiers": ("classifiers",),
    "mta": ("mta",),
    "acctpipe": ("acctpipe", "migrations"),
}
# Where the no-private-imports rule holds. Tests may import the private parts of
# the module they test, so tests/ is not in it.
PRIVATE_RULE_ROOTS = ("classifiers", "mta", "acctpipe", "migrations", "benchmarks", "scripts")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & PROJECT


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_only_point_down_the_design_table(package: str) -> None:
    """A module may import only the packages below its own in DESIGN.md's table."""
    offenders = []
    paths = [path for folder in FOLDERS_OF[package] for path in (ROOT / folder).rglob("*.py")]
    for path in sorted(paths):
        bad = _imports(path) - ALLOWED[package] - {package}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offenders == []


def test_every_project_package_is_covered() -> None:
    """Every top-level Python package in the repo is in the layering table."""
    # tests, benchmarks and scripts are tooling on top of every layer, not layers.
    tooling = {"tests", "benchmarks", "scripts"}
    folders = {p.parent.name for p in ROOT.glob("*/__init__.py")} - tooling
    assert folders == {folder for group in FOLDERS_OF.values() for folder in group}
    assert set(FOLDERS_OF) == PROJECT


def _package_of(path: Path) -> list[str]:
    """The dotted package a file's relative imports start from, as parts."""
    parts = list(path.relative_to(ROOT).parent.parts)
    return ["acctpipe", *parts] if parts[:1] == ["migrations"] else parts


def _imported_names(node: ast.Import | ast.ImportFrom, package: list[str]) -> Iterator[str]:
    """Every dotted name an import statement reaches: the module, and module.name."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        base = package[: len(package) - (node.level - 1)]
        module = ".".join([*base, *([node.module] if node.module else [])])
    else:
        module = node.module or ""
    yield module
    yield from (f"{module}.{alias.name}" for alias in node.names)


def _private_owner(dotted: str) -> list[str] | None:
    """The package or module a private name belongs to, or None if nothing is private.

    ``a.b._c.d`` → ``[a, b]``: ``_c`` is private to ``a.b`` (and its subpackages).
    ``__future__`` and dunders are not private.
    """
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return parts[:i]
    return None


def _private_reaches(root: str) -> list[str]:
    offenders = []
    for path in sorted((ROOT / root).rglob("*.py")):
        package = _package_of(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for dotted in _imported_names(node, package):
                owner = _private_owner(dotted)
                if owner is not None and package[: len(owner)] != owner:
                    rel = path.relative_to(ROOT)
                    offenders.append(f"{rel}:{node.lineno} imports {dotted}")
    return offenders


@pytest.mark.slow
@pytest.mark.parametrize("root", PRIVATE_RULE_ROOTS)
def test_no_module_imports_another_packages_private_modules(root: str) -> None:
    """A ``_module`` (or ``_name``) is private to the package (or module) that holds it,
    subpackages included: nothing outside imports it, it is re-exported or made public."""
    assert _private_reaches(root) == []


def test_the_private_rule_sees_a_reach_into_another_package() -> None:
    """The rule tells a sibling's or a parent's private module from one's own."""
    assert _private_owner("classifiers._rules.parse_rules") == ["classifiers"]
    assert _private_owner("classifiers.dialects._common") == ["classifiers", "dialects"]
    assert _private_owner("acctpipe.cli.webhook._moment") == ["acctpipe", "cli", "webhook"]
    assert _private_owner("__future__.annotations") is None
    assert _private_owner("mta.config.Where") is None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported: not in functions, not under TYPE_CHECKING."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
            yield from _module_level_imports(node.finalbody)
            for handler in node.handlers:
                yield from _module_level_imports(handler.body)


def _subpackage_graph(top: str) -> dict[str, set[str]]:
    """Subpackage of ``top`` → the sibling subpackages its modules import at module level."""
    subpackages = {p.parent.name for p in (ROOT / top).glob("*/__init__.py")}
    graph: dict[str, set[str]] = {name: set() for name in subpackages}
    for name in subpackages:
        for path in sorted((ROOT / top / name).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in _module_level_imports(tree.body):
                for dotted in _imported_names(node, _package_of(path)):
                    parts = dotted.split(".")
                    if len(parts) > 1 and parts[0] == top and parts[1] in subpackages:
                        graph[name].add(parts[1])
            graph[name].discard(name)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("top", ["acctpipe", "mta"])
def test_subpackages_import_each_other_without_cycles(top: str) -> None:
    """The subpackages of acctpipe/ and of mta/ form a DAG at module level
    (imports inside functions and under ``if TYPE_CHECKING:`` are not counted)."""
    assert _cycles(_subpackage_graph(top)) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """A two-node and a three-node cycle are found; a chain is not a cycle."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(_cycles(graph)) == [["a", "b"], ["c", "d", "e"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_migrations_folder_is_installed_as_acctpipe_migrations() -> None:
    """The top-level migrations/ folder is the package acctpipe.migrations (setup.py maps
    it; the editable install the suite runs in included), and Alembic's script location
    names that package."""
    from acctpipe.sqlstore import SCRIPT_LOCATION

    spec = importlib.util.find_spec("acctpipe.migrations")
    assert spec is not None
    assert spec.origin is not None
    assert Path(spec.origin).parent == ROOT / "migrations"
    assert SCRIPT_LOCATION.split(":")[0] == "acctpipe.migrations"
    assert not (ROOT / "acctpipe" / "migrations").exists()
    assert importlib.util.find_spec("acctpipe.migrations.versions") is not None
