"""Free-hand sketches of an emotion profile: canvas strokes to curves on [-1, 1].

The Sketch page draws on a ``streamlit-drawable-canvas``; these functions turn its
fabric.js drawing into the curve the profile search takes, and draw the canvas's
background. Nothing here imports Streamlit.
"""
from __future__ import annotations

import numpy as np


def stroke_points(json_data: dict | None) -> np.ndarray:
    """The (x, y) canvas points of every free-hand stroke in a drawable-canvas drawing.

    Anything else in the drawing (other shapes, malformed entries, points that are not
    finite numbers) is skipped.

    Returns
    -------
    np.ndarray, shape (n, 2)
        Points in canvas pixels, in drawing order.
    """
    points = []
    objects = json_data.get("objects") if isinstance(json_data, dict) else None
    for obj in objects if isinstance(objects, list) else []:
        if not isinstance(obj, dict) or str(obj.get("type", "")).lower() != "path":
            continue
        commands = obj.get("path")
        for command in commands if isinstance(commands, list) else []:
            if not isinstance(command, (list, tuple)):
                continue
            numbers = [_coordinate(c) for c in command[1:]
                       if isinstance(c, (int, float)) and not isinstance(c, bool)]
            points.extend((x, y) for x, y in zip(numbers[0::2], numbers[1::2])
                          if x is not None and y is not None)
    return np.asarray(points, dtype=float).reshape(-1, 2)


def _coordinate(value) -> float | None:
    """A finite canvas coordinate, or None."""
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if np.isfinite(value) else None


def stroke_to_curve(json_data: dict | None, *, width: int, height: int,
                    n: int = 64) -> np.ndarray | None:
    """Turn a drawn stroke into a curve of ``n`` values on [-1, 1] over its left-right extent.

    The top of the canvas is +1, the bottom -1; points are ordered by x, so a stroke
    drawn right to left reads the same. Returns None when nothing usable was drawn.
    """
    pts = stroke_points(json_data)
    if len(pts) < 2:
        return None
    x = np.clip(pts[:, 0] / width, 0.0, 1.0)
    y = np.clip(1.0 - 2.0 * (pts[:, 1] / height), -1.0, 1.0)
    if np.ptp(x) < 0.05:
        return None
    bins = np.linspace(x.min(), x.max(), n)
    order = np.argsort(x, kind="stable")
    return np.interp(bins, x[order], y[order]).astype(np.float32)


def background_png(width: int, height: int, name: str) -> bytes:
    """A PNG with the zero line and the +1 / -1 marks of a sketch canvas."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (253, 252, 249))
    draw = ImageDraw.Draw(image)
    for fraction in (0.25, 0.75):
        y = int(height * fraction)
        draw.line([(0, y), (width, y)], fill=(236, 232, 224), width=1)
    for fraction in np.linspace(0, 1, 11)[1:-1]:
        x = int(width * fraction)
        draw.line([(x, 0), (x, height)], fill=(240, 237, 230), width=1)
    draw.line([(0, height // 2), (width, height // 2)], fill=(170, 170, 170), width=1)
    draw.text((6, 4), f"+1  high {name}", fill=(120, 120, 120))
    draw.text((6, height // 2 - 14), "0", fill=(120, 120, 120))
    draw.text((6, height - 16), f"-1  low {name}", fill=(120, 120, 120))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
