"""Every `SQL["name"]` names an existing .sql file, and every .sql file is run by some code.

Static analysis of the source tree (no imports): each `NAME = SqlFiles(<folder>)` binds a
loader to a folder, resolved from `Path(__file__)`, `.resolve()`, `.parent`, `.parents[n]`
and `/ "part"`; each `NAME["literal"]` is a lookup, also through `from module import NAME`
or `module.NAME[...]`. A lookup by a computed name (`SQL[name]` over a table of names, as
reporting's projector does) counts every string literal of its module that names a file of
the folder as a use; such names are checked at import by the code itself. Anything the
checker cannot follow (a folder it cannot resolve, a computed lookup with no literal name in
its module, a loader handed on) is reported, so nothing escapes unseen. Migrations are not
loaded through SqlFiles, so their folders are not checked here.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = sorted([*REPO.glob("*/src"), *REPO.glob("services/*/src")])
"""Where the code lives (the packages of the workspace); tests do not count as users."""

LOADER_CLASS = "SqlFiles"


@dataclass(frozen=True)
class Loader:
    """A `SqlFiles(...)` object bound to a name in a module."""

    module: str
    name: str
    folder: Path


@dataclass(frozen=True)
class Lookup:
    """`NAME["query"]` at a place in the source."""

    where: str
    folder: Path
    query: str


@dataclass
class SqlUsage:
    """What the source tree asks of its .sql folders, and what it leaves alone."""

    lookups: list[Lookup] = field(default_factory=list)
    folders: set[Path] = field(default_factory=set)
    unfollowable: list[str] = field(default_factory=list)

    def missing(self) -> list[str]:
        """Lookups naming no file in their loader's folder."""
        return sorted(
            f"{lookup.where}: {lookup.query!r} names no file {_shown(lookup.folder)}/"
            f"{lookup.query}.sql"
            for lookup in self.lookups
            if not (lookup.folder / f"{lookup.query}.sql").is_file()
        )

    def unused(self) -> list[str]:
        """.sql files in a loaded folder that no lookup names."""
        used: dict[Path, set[str]] = defaultdict(set)
        for lookup in self.lookups:
            used[lookup.folder].add(lookup.query)
        return sorted(
            f"{_shown(path)} is run by no code (no {LOADER_CLASS} lookup names {path.stem!r})"
            for folder in self.folders
            for path in folder.glob("*.sql")
            if path.stem not in used[folder]
        )


def _shown(path: Path) -> str:
    """A path relative to the repository when it lies inside, for short messages."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of `path` under a source root."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_loader_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    callee = node.func
    name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", None)
    return name == LOADER_CLASS


def resolve_folder(node: ast.expr, source: Path) -> Path | None:
    """The folder an expression built from `Path(__file__)` names; None when not static."""
    match node:
        case ast.Call(func=ast.Name(id="Path"), args=[ast.Name(id="__file__")], keywords=[]):
            return source
        case ast.Call(func=ast.Attribute(value=inner, attr="resolve" | "absolute"), args=[]):
            return resolve_folder(inner, source)
        case ast.Attribute(value=inner, attr="parent"):
            base = resolve_folder(inner, source)
            return base.parent if base is not None else None
        case ast.Subscript(
            value=ast.Attribute(value=inner, attr="parents"), slice=ast.Constant(value=int(n))
        ):
            base = resolve_folder(inner, source)
            return base.parents[n] if base is not None else None
        case ast.BinOp(left=inner, op=ast.Div(), right=ast.Constant(value=str(part))):
            base = resolve_folder(inner, source)
            return base / part if base is not None else None
    return None


@dataclass
class _Module:
    name: str
    path: Path
    tree: ast.Module


def _imported_name(module: _Module, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` names (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    package = module.name.split(".")
    if module.path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def analyse(roots: list[Path]) -> SqlUsage:
    """Find every SqlFiles loader and lookup under `roots`."""
    modules = [
        _Module(module_name(path, root), path, ast.parse(path.read_text(), filename=str(path)))
        for root in roots
        for path in sorted(root.rglob("*.py"))
    ]
    usage = SqlUsage()
    loaders: dict[tuple[str, str], Loader] = {}
    for module in modules:
        _collect_loaders(module, loaders, usage)
    for module in modules:
        _collect_lookups(module, loaders, usage)
    usage.folders = {loader.folder for loader in loaders.values()}
    usage.unfollowable.sort()
    return usage


def _where(module: _Module, node: ast.AST) -> str:
    return f"{_shown(module.path)}:{getattr(node, 'lineno', '?')}"


def _collect_loaders(
    module: _Module, loaders: dict[tuple[str, str], Loader], usage: SqlUsage
) -> None:
    bound: set[int] = set()
    for node in ast.walk(module.tree):
        assigned = _assignment(node)
        if assigned is None or not _is_loader_call(assigned[1]):
            continue
        target, call = assigned
        assert isinstance(call, ast.Call)
        bound.add(id(call))
        folder = resolve_folder(call.args[0], module.path) if len(call.args) == 1 else None
        if folder is None:
            usage.unfollowable.append(
                f"{_where(module, node)}: a folder the checker cannot resolve; build it "
                "from Path(__file__) with .parent, .parents[n] and / 'name'"
            )
        elif not isinstance(target, ast.Name):
            usage.unfollowable.append(
                f"{_where(module, node)}: bind the {LOADER_CLASS} to a plain module-level name"
            )
        else:
            loaders[(module.name, target.id)] = Loader(module.name, target.id, folder)
    for node in ast.walk(module.tree):
        if _is_loader_call(node) and id(node) not in bound:
            usage.unfollowable.append(
                f"{_where(module, node)}: a {LOADER_CLASS} not bound to a module-level name"
            )


def _assignment(node: ast.AST) -> tuple[ast.expr, ast.expr] | None:
    """(target, value) of a single-target assignment, else None."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        return node.targets[0], node.value
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return node.target, node.value
    return None


def _collect_lookups(
    module: _Module, loaders: dict[tuple[str, str], Loader], usage: SqlUsage
) -> None:
    names: dict[str, Loader] = {
        name: loader for (owner, name), loader in loaders.items() if owner == module.name
    }
    modules_by_alias: dict[str, str] = {}
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom):
            source = _imported_name(module, node)
            for alias in node.names:
                if (source, alias.name) in loaders:
                    names[alias.asname or alias.name] = loaders[(source, alias.name)]
                elif any(owner == f"{source}.{alias.name}" for owner, _ in loaders):
                    modules_by_alias[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(owner == alias.name for owner, _ in loaders):
                    modules_by_alias[alias.asname or alias.name] = alias.name

    def loader_of(node: ast.expr) -> Loader | None:
        if isinstance(node, ast.Name):
            return names.get(node.id)
        if isinstance(node, ast.Attribute):
            owner = _dotted(node.value)
            owner = modules_by_alias.get(owner or "", owner)
            return loaders.get((owner or "", node.attr))
        return None

    subscripted: set[int] = set()
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Subscript):
            continue
        loader = loader_of(node.value)
        if loader is None:
            continue
        subscripted.add(id(node.value))
        if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            usage.lookups.append(Lookup(_where(module, node), loader.folder, node.slice.value))
        else:
            _computed_lookup(module, node, loader, usage)
    for node in ast.walk(module.tree):
        if not isinstance(node, ast.Name | ast.Attribute) or not isinstance(node.ctx, ast.Load):
            continue
        if id(node) not in subscripted and loader_of(node) is not None:
            usage.unfollowable.append(
                f"{_where(module, node)}: the loader is used other than by NAME['query']; "
                "the checker cannot follow it"
            )


def _computed_lookup(module: _Module, node: ast.Subscript, loader: Loader, usage: SqlUsage) -> None:
    """`NAME[expr]`: the module's literals that name a file of the folder are its uses."""
    stems = {path.stem for path in loader.folder.glob("*.sql")}
    named = sorted(_string_literals(module.tree) & stems)
    where = _where(module, node)
    if not named:
        usage.unfollowable.append(
            f"{where}: {loader.name}[...] with a computed name, and no literal in the module "
            "names a file of its folder"
        )
    usage.lookups += [Lookup(f"{where} (by name)", loader.folder, name) for name in named]


def _string_literals(tree: ast.Module) -> set[str]:
    """The module's string constants, docstrings and other bare string statements left out."""
    bare = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in bare
    }


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


# --- the source tree --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def usage() -> SqlUsage:
    return analyse(SOURCE_ROOTS)


def test_the_checker_sees_the_loaders_of_every_service(usage: SqlUsage) -> None:
    loaded = {_shown(folder) for folder in usage.folders}
    assert {
        "shared/src/durchstarten/db/sql",
        "shared/src/durchstarten/messaging/sql",
        "services/intake/src/intake/db",
        "services/coaching/src/coaching/db",
        "services/courses/src/courses/db",
        "services/reporting/src/reporting/db",
    } <= loaded
    assert len(usage.lookups) > 100


def test_every_lookup_can_be_followed(usage: SqlUsage) -> None:
    assert usage.unfollowable == [], "\n".join(usage.unfollowable)


def test_every_lookup_names_an_existing_sql_file(usage: SqlUsage) -> None:
    missing = usage.missing()
    assert missing == [], "\n".join(missing)


def test_every_sql_file_is_run_by_some_code(usage: SqlUsage) -> None:
    unused = usage.unused()
    assert unused == [], "\n".join(unused)


# --- the checker itself, on a tree of its own ---------------------------------------------------


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_checker_reports_missing_unused_and_unfollowable_lookups(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write(root / "demo" / "__init__.py", "")
    write(root / "demo" / "db" / "used.sql", "SELECT 1")
    write(root / "demo" / "db" / "also_used.sql", "SELECT 2")
    write(root / "demo" / "db" / "dead.sql", "SELECT 3")
    write(root / "demo" / "queries" / "nested.sql", "SELECT 4")
    write(root / "demo" / "queries" / "by_table.sql", "SELECT 5")
    write(root / "demo" / "queries" / "in_a_docstring_only.sql", "SELECT 6")
    write(
        root / "demo" / "repository.py",
        "from pathlib import Path\n"
        "from durchstarten.db.sqlfiles import SqlFiles\n"
        'SQL = SqlFiles(Path(__file__).parent / "db")\n'
        'NESTED = SqlFiles(Path(__file__).resolve().parents[1] / "demo" / "queries")\n'
        "def run():\n"
        '    SQL["used"]\n'
        '    SQL["typo"]\n'
        '    NESTED["nested"]\n',
    )
    write(
        root / "demo" / "table.py",
        '"""Runs in_a_docstring_only? No: a docstring names nothing."""\n'
        "from demo.repository import NESTED, SQL\n"
        'TABLE = {"by_table": 1}\n'
        "def run(name, key):\n"
        "    NESTED[name]\n"
        "    return SQL[key]\n",
    )
    write(
        root / "demo" / "other.py",
        "from pathlib import Path\n"
        "from durchstarten.db import sqlfiles\n"
        "from demo import repository\n"
        "from .repository import SQL as QUERIES\n"
        'QUERIES["also_used"]\n'
        'repository.SQL["gone"]\n'
        "handed_on = QUERIES\n"
        'inline = sqlfiles.SqlFiles(Path("/elsewhere"))\n',
    )

    usage = analyse([root])

    assert usage.missing() == [
        f"{root}/demo/other.py:6: 'gone' names no file {root}/demo/db/gone.sql",
        f"{root}/demo/repository.py:7: 'typo' names no file {root}/demo/db/typo.sql",
    ]
    assert usage.unused() == [
        f"{root}/demo/db/dead.sql is run by no code (no SqlFiles lookup names 'dead')",
        f"{root}/demo/queries/in_a_docstring_only.sql is run by no code"
        " (no SqlFiles lookup names 'in_a_docstring_only')",
    ]
    assert [problem.split(": ", 1)[0] for problem in usage.unfollowable] == [
        f"{root}/demo/other.py:7",  # the loader handed on
        f"{root}/demo/other.py:8",  # a folder the checker cannot resolve
        f"{root}/demo/table.py:6",  # a computed name, no literal naming a file of db/
    ]
    assert Lookup(f"{root}/demo/table.py:5 (by name)", root / "demo" / "queries", "by_table") in (
        usage.lookups
    )


def test_a_clean_tree_has_nothing_to_report(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write(root / "clean" / "db" / "ping.sql", "SELECT 1")
    write(
        root / "clean" / "ping.py",
        "from pathlib import Path\n"
        "from durchstarten.db.sqlfiles import SqlFiles\n"
        'SQL = SqlFiles(Path(__file__).parent / "db")\n'
        'PING = SQL["ping"]\n',
    )

    usage = analyse([root])

    assert (usage.missing(), usage.unused(), usage.unfollowable) == ([], [], [])
    assert usage.folders == {root / "clean" / "db"}
