"""SVG to PNG/PDF for engraved scores: CairoSVG where the system's Cairo is installed, else resvg (a self-contained wheel).

CairoSVG draws with libcairo, a system library (apt, brew) that ``pip`` cannot bring; resvg-py is a Rust
renderer shipped whole in its wheel on Linux, macOS and Windows. resvg makes PNG only, so without Cairo a PDF
is that PNG (at print resolution) wrapped by Pillow (which matplotlib already brings): sharp on paper, but an
image, not vector lines. Text (titles, chord symbols) is drawn with the DejaVu fonts inside matplotlib's wheel,
so it shows on a machine with no fonts installed.
"""

from __future__ import annotations

import io
from pathlib import Path

from tunesmith.core.errors import BadInputError

PDF_ZOOM = 3.0  # resvg's PNG inside a PDF: Verovio's SVG is ~96 dpi, so about 300 dpi on paper


def vector_converter() -> str | None:
    """``"cairosvg"`` when CairoSVG and its libcairo load; None otherwise."""
    try:
        import cairosvg  # noqa: F401 - also loads libcairo, which raises OSError when it is missing
    except (ImportError, OSError):
        return None
    return "cairosvg"


def raster_converter() -> str | None:
    """``"resvg"`` when resvg-py is installed; None otherwise."""
    try:
        import resvg_py  # noqa: F401
    except ImportError:
        return None
    return "resvg"


def converter(suffix: str) -> str:
    """Which library turns the SVG into ``suffix`` (``.png``/``.pdf``): cairosvg, resvg, or an error saying what to install."""
    chosen = vector_converter() or raster_converter()
    if chosen is None:
        raise BadInputError(
            f"writing {suffix} scores needs resvg-py (pip install resvg-py) or CairoSVG with the system's Cairo "
            "(pip install cairosvg; Debian/Ubuntu: apt install libcairo2, macOS: brew install cairo); .svg works without either"
        )
    return chosen


def _font_dirs() -> list[str]:
    import matplotlib

    return [str(Path(matplotlib.get_data_path()) / "fonts" / "ttf")]


def _resvg_png(svg: str, zoom: float) -> bytes:
    import resvg_py

    return bytes(
        resvg_py.svg_to_bytes(
            svg_string=svg,
            background="#ffffff",
            zoom=zoom,
            font_dirs=_font_dirs(),
            font_family="DejaVu Serif",
            serif_family="DejaVu Serif",
            sans_serif_family="DejaVu Sans",
        )
    )


def svg_to(svg: str, suffix: str) -> bytes:
    """The bytes of a ``.png`` or ``.pdf`` drawing of ``svg`` (white background)."""
    if converter(suffix) == "cairosvg":
        import cairosvg

        if suffix == ".png":
            return cairosvg.svg2png(bytestring=svg.encode("utf-8"), background_color="white", scale=1.0)
        return cairosvg.svg2pdf(bytestring=svg.encode("utf-8"))
    if suffix == ".png":
        return _resvg_png(svg, 1.0)
    from PIL import Image

    image = Image.open(io.BytesIO(_resvg_png(svg, PDF_ZOOM))).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PDF", resolution=96 * PDF_ZOOM)
    return buffer.getvalue()
