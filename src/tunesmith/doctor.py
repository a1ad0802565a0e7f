"""``tunesmith doctor``: what this install uses for each part, and what would be better.

A ``pip install tunesmith`` works with no system libraries, but some parts then take a lesser choice: the
built-in NumPy synth instead of FluidSynth, the small TimGM6mb SoundFont instead of FluidR3_GM, raster PDF
scores instead of vector ones. The doctor names each such choice once, with the one command that installs
the better part on this system (Debian/Ubuntu, macOS, Windows).
"""

from __future__ import annotations

import importlib.util
import platform
import sys
from dataclasses import asdict, dataclass

MIN_PYTHON = (3, 10)


@dataclass
class Part:
    """One part of tunesmith: what it uses here, and (when that is a lesser choice) what is better and how to get it."""

    name: str
    uses: str
    degraded: bool = False
    better: str = ""
    install: str = ""


def _system() -> str:
    if sys.platform == "darwin":
        return "macos"
    if sys.platform == "win32":
        return "windows"
    return "debian" if importlib.util.find_spec("apt") or _debian_like() else "linux"


def _debian_like() -> bool:
    try:
        text = open("/etc/os-release", encoding="utf-8").read().lower()
    except OSError:
        return False
    return "debian" in text or "ubuntu" in text


# the one command per system that brings each better part
INSTALL = {
    "fluidsynth": {
        "debian": "sudo apt install libfluidsynth3",
        "linux": "install FluidSynth's library (libfluidsynth3 / fluidsynth) with your package manager",
        "macos": "brew install fluid-synth",
        "windows": "choco install fluidsynth  (or unzip FluidSynth's release and put its bin folder on PATH)",
    },
    "fluidr3": {
        "debian": "sudo apt install fluid-soundfont-gm",
        "linux": "install FluidR3_GM.sf2 (fluid-soundfont-gm / soundfont-fluid) with your package manager",
        "macos": "put FluidR3_GM.sf2 in /opt/homebrew/share/soundfonts/default.sf2 (or set TUNESMITH_SOUNDFONT)",
        "windows": "put FluidR3_GM.sf2 in C:/soundfonts/default.sf2 (or set TUNESMITH_SOUNDFONT)",
    },
    "cairo": {
        "debian": "sudo apt install libcairo2 && pip install cairosvg",
        "linux": "install Cairo (libcairo2 / cairo) with your package manager, then pip install cairosvg",
        "macos": "brew install cairo && pip install cairosvg",
        "windows": "pip install cairosvg, with a Cairo DLL on PATH (the GTK for Windows runtime)",
    },
}


def _synth(system: str) -> Part:
    from tunesmith.audio.soundfont import synth_name

    try:
        name = synth_name()
    except Exception as exc:  # a bad $TUNESMITH_SYNTH
        return Part("synth", f"none ({exc})", True, "FluidSynth", INSTALL["fluidsynth"][system])
    if name == "fluidsynth":
        return Part("synth", "FluidSynth (system library)")
    return Part(
        "synth",
        "built-in NumPy SoundFont player (no reverb, chorus or filters)",
        True,
        "FluidSynth: reverb, filters, every SoundFont detail",
        INSTALL["fluidsynth"][system],
    )


def _soundfont(system: str) -> Part:
    from tunesmith.audio.soundfont import find_soundfont, packaged_soundfont
    from tunesmith.core.errors import TunesmithError

    try:
        path = find_soundfont()
    except TunesmithError as exc:
        return Part("soundfont", f"none: {exc}", True, "FluidR3_GM", INSTALL["fluidr3"][system])
    packaged = packaged_soundfont()
    if packaged is not None and path == packaged:
        return Part(
            "soundfont",
            f"TimGM6mb (6 MB, from pretty_midi) {path}",
            True,
            "FluidR3_GM (148 MB): fuller piano, guitar and music box",
            INSTALL["fluidr3"][system],
        )
    return Part("soundfont", str(path))


def _scores(system: str) -> Part:
    from tunesmith.outputs.svgconvert import raster_converter, vector_converter

    if vector_converter():
        return Part("scores", "SVG, PNG and vector PDF (CairoSVG with the system's Cairo)")
    if raster_converter():
        return Part(
            "scores", "SVG, PNG (resvg); PDF as a 300 dpi image", True, "vector PDF via CairoSVG", INSTALL["cairo"][system]
        )
    return Part("scores", "SVG only", True, "PNG/PDF: pip install resvg-py", "pip install resvg-py")


def _extra(name: str, module: str, uses: str, extra: str) -> Part:
    if importlib.util.find_spec(module) is not None:
        return Part(name, uses)
    return Part(name, "not installed", True, uses, f"pip install 'tunesmith[{extra}]'")


def _device() -> Part:
    import torch

    from tunesmith.core.device import pick_device

    return Part("training", f"torch {torch.__version__} on {pick_device()}")


def diagnose() -> list[Part]:
    """Every part of tunesmith and what it uses on this machine."""
    system = _system()
    version = ".".join(map(str, sys.version_info[:3]))
    python = Part("python", f"Python {version} on {platform.system()} {platform.machine()}")
    if sys.version_info < MIN_PYTHON:
        python = Part("python", python.uses, True, "Python 3.10 or newer", "install Python 3.10+ and a new venv with it")
    return [
        python,
        _device(),
        _synth(system),
        _soundfont(system),
        _scores(system),
        _extra("video", "imageio_ffmpeg", "ffmpeg from imageio-ffmpeg", "video"),
        _extra("web", "fastapi", "FastAPI web page", "web"),
        _extra("musicxml", "music21", "music21 (MusicXML in/out)", "scores"),
    ]


def report(parts: list[Part] | None = None) -> str:
    """The doctor's text: one line per part, then each lesser choice once, with its install command."""
    parts = diagnose() if parts is None else parts
    width = max(len(p.name) for p in parts)
    lines = [f"{p.name:<{width}}  {p.uses}" for p in parts]
    lesser = [p for p in parts if p.degraded]
    if lesser:
        lines += ["", "Lesser choices, and how to get the better one:"]
        lines += [f"- {p.name}: {p.uses} -> {p.better}\n    {p.install}" for p in lesser]
    else:
        lines += ["", "Everything uses the best choice."]
    return "\n".join(lines)


def as_json(parts: list[Part] | None = None) -> list[dict]:
    return [asdict(p) for p in (diagnose() if parts is None else parts)]
