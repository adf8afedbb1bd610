"""The layout's arrows, read from the source (ast, every import statement, also those inside
functions): the research runs in tools/studies/ import the product, never the other way (only
their own tests may import them), and no two tools/ modules import each other, directly or round
a loop. A lazy import inside a function still counts: it hides a cycle, it does not remove it."""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {".git", "__pycache__", "build", "dist", "work_dirs", "node_modules", "shared"}
STUDIES = "tools.studies"


def python_files() -> list:
    """Every .py file of the repository (relative paths), without caches, builds and hidden
    folders."""
    found = []
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                         and not d.endswith(".egg-info"))
        found += [os.path.relpath(os.path.join(top, f), ROOT) for f in sorted(files)
                  if f.endswith(".py")]
    return found


def module_name(path: str) -> str:
    parts = path[:-3].split(os.sep)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: str) -> list:
    """(line, module) for every module `path` imports; `from PKG import NAME` gives PKG.NAME when
    that is a module of this repository, else PKG; relative imports are resolved."""
    with open(os.path.join(ROOT, path)) as f:
        tree = ast.parse(f.read(), path)
    package = module_name(path).split(".")
    if not path.endswith("__init__.py"):
        package = package[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((node.lineno, sub if is_module(sub) else base))
        elif isinstance(node, ast.Call) and called(node) == "import_module" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                out.append((node.lineno, first.value))
    return out


def called(call: ast.Call) -> str:
    """The called function's own name: `f` of `f(...)` and of `mod.f(...)`."""
    return getattr(call.func, "attr", getattr(call.func, "id", ""))


def is_module(name: str) -> bool:
    path = os.path.join(ROOT, *name.split("."))
    return os.path.isfile(path + ".py") or os.path.isfile(os.path.join(path, "__init__.py"))


def in_studies(module: str) -> bool:
    return module == STUDIES or module.startswith(STUDIES + ".")


def test_nothing_outside_the_studies_imports_them():
    files = python_files()
    assert {"tools/studies/classification.py", "tools/ablate/engine.py"} <= set(files)  # walked
    arrows = [f"{path}:{line} imports {module}" for path in files
              if not (in_studies(module_name(path)) or path.startswith("tests" + os.sep))
              for line, module in imports(path) if in_studies(module)]
    assert arrows == [], "tools/studies/ is imported from outside it:\n" + "\n".join(arrows)


def cycles(graph: dict) -> list:
    """The strongly connected components with more than one module (or a module importing itself)
    of `graph` (module -> modules it imports), by Tarjan's algorithm."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def tools_graph() -> dict:
    modules = {module_name(p): p for p in python_files() if p.startswith("tools" + os.sep)}
    return {m: {i for _, i in imports(p) if i in modules} for m, p in modules.items()}


def test_no_import_cycle_among_tools_modules():
    graph = tools_graph()
    assert "tools.ablate.engine" in graph["tools.studies.classification"]  # study -> engine
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_loop_and_passes_a_tree():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
