"""An offline ``index.html`` gallery of results: audio players, piano rolls, spectrograms, downloads.

Only files that exist are linked, all by relative path, so the folder can be zipped and shared.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from tunesmith.core.files import write_text

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;
background:#fafafa}
h1{font-weight:600}section{background:#fff;border:1px solid #ddd;border-radius:8px;padding:1rem 1.2rem;margin:1rem 0}
.players{display:flex;flex-wrap:wrap;gap:1rem}.player{display:flex;flex-direction:column;font-size:.9rem}
img{max-width:100%;border:1px solid #eee;background:#fff}iframe{width:100%;height:430px;border:0}
.meta{color:#666;font-size:.9rem}a{color:#1565c0}
"""


def _rel(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _audio(path: Path, root: Path, label: str) -> str:
    return (
        f'<div class="player"><span>{html.escape(label)}</span><audio controls preload="none" '
        f'src="{html.escape(_rel(path, root))}"></audio></div>'
    )


def section_html(
    root: Path,
    title: str,
    *,
    meta: str = "",
    audio: dict[str, Path] | None = None,
    images: list[Path] | None = None,
    roll_html: Path | None = None,
    downloads: list[Path] | None = None,
) -> str:
    """One block of the gallery; missing files are simply left out."""
    parts = [f"<section><h2>{html.escape(title)}</h2>"]
    if meta:
        parts.append(f'<p class="meta">{html.escape(meta)}</p>')
    players = [_audio(p, root, label) for label, p in (audio or {}).items() if p and Path(p).is_file()]
    if players:
        parts.append('<div class="players">' + "".join(players) + "</div>")
    if roll_html and Path(roll_html).is_file():
        parts.append(f'<iframe loading="lazy" src="{html.escape(_rel(roll_html, root))}"></iframe>')
    for image in images or []:
        if image and Path(image).is_file():
            parts.append(f'<img alt="{html.escape(Path(image).stem)}" src="{html.escape(_rel(image, root))}">')
    links = [
        f'<a href="{html.escape(_rel(p, root))}" download>{html.escape(Path(p).name)}</a>'
        for p in downloads or []
        if p and Path(p).is_file()
    ]
    if links:
        parts.append("<p>Download: " + " · ".join(links) + "</p>")
    parts.append("</section>")
    return "\n".join(parts)


def write_gallery(root: str | os.PathLike, title: str, sections: list[str], intro: str = "") -> Path:
    root = Path(root)
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        + (f"<p>{html.escape(intro)}</p>" if intro else "")
        + "\n".join(sections)
        + "</body></html>\n"
    )
    return write_text(root / "index.html", page)


def melody_sections(root: Path, outputs: list[dict], out_dir: Path) -> list[str]:
    """Gallery sections for ``generate_to_dir`` outputs (files named relative to ``out_dir``)."""
    sections = []
    for item in outputs:
        files = {k: out_dir / v for k, v in item["files"].items()}
        audio = {k.removeprefix("audio_"): v for k, v in files.items() if k.startswith("audio_")}
        meta = f"{item['notes']} notes, {item['steps']} steps"
        if "log_likelihood" in item:  # melodies written over chords (melody.edit) carry none
            meta += f", log-likelihood {item['log_likelihood']:.1f}"
        if item.get("chords"):
            meta += f"; chords ({item.get('key', '')}): {' '.join(item['chords'])}"
        sections.append(
            section_html(
                root,
                item["name"],
                meta=meta,
                audio=audio,
                roll_html=files.get("piano_roll_html"),
                images=[files.get("score_svg")],
                downloads=[files.get("midi"), files.get("abc"), files.get("musicxml"), *audio.values()],
            )
        )
    return sections
