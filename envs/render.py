"""Pictures as images: what every env's ``render_mode="rgb_array"`` shares.

The picture modules (``envs/soc/gantt.py``, ``envs/vm/occupancy.py``, ``envs/llm/timeline.py``,
``envs/iot/gantt.py``) draw on a matplotlib :class:`~matplotlib.figure.Figure` made by
:func:`new_figure`; :func:`figure_array` rasterises it with the Agg canvas (no display, no
pyplot state, so it works on servers and in worker threads) and :func:`save_png` writes an
image atomically (:mod:`schedgym.data.files`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from schedgym.data.files import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The render modes of every SchedGym env (Gymnasium's ``metadata["render_modes"]``).
RENDER_MODES: tuple[str, ...] = ("rgb_array",)
#: Dots per inch of rendered pictures: a 10 × 5 inch figure is 1000 × 500 pixels.
DPI = 100


def new_figure(width: float, height: float) -> "Figure":
    """An empty figure of ``width`` × ``height`` inches with a constrained layout."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def figure_array(figure: "Figure") -> np.ndarray:
    """The figure rasterised: an (H, W, 3) uint8 RGB array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_png(path: str | Path, image: np.ndarray) -> None:
    """Writes an (H, W, 3) uint8 image as a PNG file, atomically."""
    from matplotlib.image import imsave

    with atomic_path(path, suffix=".png") as temporary:
        imsave(temporary, image, format="png")


def colour_table(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinct colours, cycling a qualitative colormap (tab10, tab20 beyond 10)."""
    import matplotlib

    colours = matplotlib.colormaps["tab20" if n > 10 else "tab10"]
    return [colours(i % colours.N) for i in range(n)]


__all__ = ["RENDER_MODES", "DPI", "new_figure", "figure_array", "save_png", "colour_table"]
