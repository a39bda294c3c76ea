"""The package's shape: no module of taskapp imports itself back, and the worker stays free of
Flask and alembic."""

import ast
import subprocess
import sys
from pathlib import Path

import taskapp

PACKAGE = Path(taskapp.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported(path: Path, known: dict) -> set[str]:
    """The taskapp modules a module imports, at its top or inside its functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("taskapp"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("taskapp"):
            for alias in node.names:  # `from taskapp.web import errors` imports the module taskapp.web.errors
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in known else node.module)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk (each reported once, from where it was entered)."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for neighbour in sorted(graph.get(node, ())):
            if state.get(neighbour) == "open":
                found.append(path[path.index(neighbour):] + [neighbour])
            elif neighbour not in state:
                visit(neighbour, path + [neighbour])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_module_of_taskapp_imports_itself_back():
    known = modules()
    graph = {name: imported(path, known) - {name} for name, path in known.items()}
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_import_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from taskapp.web import errors\n    import taskapp.config\n")
    assert imported(module, {"taskapp.web.errors": None}) == {"taskapp.web.errors", "taskapp.config"}


def test_the_worker_imports_neither_flask_nor_alembic():
    code = ("import sys, taskapp.worker.loop, taskapp.worker.deliveries, taskapp.worker.due_reminders; "
            "print(sorted(m for m in ('flask', 'alembic', 'marshmallow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
