"""Canvas strokes to profile curves (emolab.sketch)."""
import numpy as np
import pytest

from emolab import sketch


def test_stroke_to_curve_maps_canvas_to_unit_values():
    # A stroke from bottom-left to top-right, drawn as fabric.js path commands.
    drawing = {"objects": [{"type": "Path", "path": [
        ["M", 0, 200], ["Q", 100, 150, 200, 100], ["L", 400, 0]]}]}
    curve = sketch.stroke_to_curve(drawing, width=400, height=200, n=5)
    assert curve.shape == (5,)
    assert curve[0] == pytest.approx(-1.0) and curve[-1] == pytest.approx(1.0)
    assert np.all(np.diff(curve) >= 0)


def test_stroke_to_curve_ignores_dots_and_empty_drawings():
    assert sketch.stroke_to_curve(None, width=400, height=200) is None
    dot = {"objects": [{"type": "path", "path": [["M", 10, 10], ["L", 11, 12]]}]}
    assert sketch.stroke_to_curve(dot, width=400, height=200) is None


@pytest.mark.parametrize("drawing", [
    {"objects": None}, {"objects": "path"}, {"objects": [1, "x"]}, [1, 2],
    {"objects": [{"type": "path", "path": None}]},
    {"objects": [{"type": "path", "path": [1, 2, 3]}]},
])
def test_stroke_to_curve_ignores_malformed_drawings(drawing):
    assert sketch.stroke_to_curve(drawing, width=400, height=200) is None


def test_stroke_to_curve_skips_points_that_are_not_finite():
    drawing = {"objects": [{"type": "path", "path": [
        ["M", 0, 200], ["L", float("nan"), 5], ["L", 200, float("inf")], ["L", 400, 0],
        ["L", 10**400, 3]]}]}
    curve = sketch.stroke_to_curve(drawing, width=400, height=200, n=5)
    assert np.isfinite(curve).all() and curve[0] == -1.0 and curve[-1] == 1.0


def test_background_is_a_png_of_the_canvas_size():
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(sketch.background_png(300, 120, "valence")))
    assert image.size == (300, 120) and image.format == "PNG"
