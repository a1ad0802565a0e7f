"""The house has named layers: each imports only the layers below it, and no module circle exists.

The order follows the data flow (DESIGN.md, README "Where things are"), bottom first:

    core          errors, atomic files, output folders, config, device, progress, checkpoints, the training loop
    music         types, theory and file formats (melody, notes, meter, key, chords, harmony, midi, abc, musicxml)
    data | audio  corpus preparation | reading/writing/synthesising/transcribing sound (peers: neither imports the other)
    melody | audio_model   the two model families (peers)
    outputs       what a person opens: generations written to folders, plots, video, score, gallery, notebook
    evaluate      figures about models and their outputs
    front ends    cli, pipeline, demo, web, settings, the package top (``tunesmith/__init__``)

Every import counts, at module level and inside functions: a lazy import still runs upward when it runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tunesmith

SRC = Path(tunesmith.__file__).parent

# bottom first; names in one tuple are peers and may not import each other
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("music",),
    ("data", "audio"),
    ("melody", "audio_model"),
    ("outputs",),
    ("evaluate",),
    ("cli", "pipeline", "demo", "web", "settings", "__init__", "__main__"),
)
FRONT = LAYERS[-1]
# top-level names that live in another layer's room: the bundled files' lookup, and bare constants
ROOMS = {"assets": "core", "defaults": "core"}


def layer_of(module: str) -> tuple[int, str]:
    """``tunesmith.music.key`` -> (1, "music"): the rank and the name of the layer a module lives in."""
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "__init__"
    name = ROOMS.get(name, name)
    for rank, names in enumerate(LAYERS):
        if name in names:
            return rank, name
    raise AssertionError(f"{module} is in no layer: add {name!r} to LAYERS in tests/test_layers.py")


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = SRC) -> set[str]:
    """Every tunesmith module a file imports, module-level and function-level (``from x import y``: x and x.y)."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == root.name or name.startswith(root.name + ".")}


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    """module -> the modules of the package it imports (names that are not modules, like functions, dropped)."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    return {mod: {name for name in imports_of(path, root) if name in files and name != mod} for mod, path in files.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports that run to a higher layer, or sideways to a peer layer."""
    bad = []
    for module, targets in sorted(graph.items()):
        rank, name = layer_of(module)
        for target in sorted(targets):
            target_rank, target_name = layer_of(target)
            if target_rank > rank or (target_rank == rank and target_name != name and name not in FRONT):
                bad.append(f"{module} -> {target}")
    return bad


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Module circles (strongly connected components of more than one module), found by Tarjan's algorithm.

    A package's ``__init__`` importing its own modules is not a circle unless one of them imports it back.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_runs_upward_between_layers():
    bad = upward_imports(import_graph())
    assert not bad, "imports that run upward or sideways between layers:\n" + "\n".join(bad)


def test_no_module_circles():
    found = circles(import_graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_music_layer_needs_no_heavy_library():
    """music/ is the foundation: no torch, bokeh, matplotlib or FluidSynth, even lazily."""
    heavy = ("torch", "bokeh", "matplotlib", "fluidsynth", "librosa")
    bad = []
    for path in sorted((SRC / "music").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0] in heavy]
    assert not bad, bad


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checks_catch_a_bad_graph(tmp_path):
    """A synthetic package with the faults this house once had: music importing a notebook helper in a function,
    a music module importing the harmoniser that imports it back, and a peer import (data -> audio)."""
    root = _write(
        tmp_path / "tunesmith",
        {
            "__init__.py": "",
            "core/__init__.py": "",
            "core/errors.py": "",
            "music/__init__.py": "",
            "music/melody.py": "from tunesmith.core.errors import x\n"
            "def _repr_html_(self):\n    from tunesmith.outputs.notebook import melody_html\n",
            "music/export.py": "from . import harmony\n",
            "music/harmony.py": "from tunesmith.music.export import load\n",
            "data/__init__.py": "",
            "data/corpus.py": "import tunesmith.audio.io\n",
            "audio/__init__.py": "",
            "audio/io.py": "",
            "outputs/__init__.py": "",
            "outputs/notebook.py": "from tunesmith.music.melody import Melody\n",
        },
    )
    graph = import_graph(root)
    assert upward_imports(graph) == [
        "tunesmith.data.corpus -> tunesmith.audio.io",
        "tunesmith.music.melody -> tunesmith.outputs.notebook",
    ]
    assert sorted(circles(graph)) == [
        ["tunesmith.music.export", "tunesmith.music.harmony"],
        ["tunesmith.music.melody", "tunesmith.outputs.notebook"],
    ]
    with pytest.raises(AssertionError, match="in no layer"):
        layer_of("tunesmith.gadgets.thing")


def test_a_clean_graph_passes(tmp_path):
    root = _write(
        tmp_path / "tunesmith",
        {
            "__init__.py": "from tunesmith.outputs import notebook\n",
            "core/__init__.py": "",
            "core/errors.py": "",
            "music/__init__.py": "",
            "music/melody.py": "from tunesmith.core.errors import x\n",
            "outputs/__init__.py": "",
            "outputs/notebook.py": "def f():\n    from tunesmith.music.melody import Melody\n",
        },
    )
    graph = import_graph(root)
    assert upward_imports(graph) == [] and circles(graph) == []
