"""Chart builders: what they encode and which selections they expose."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from emolab import plots


def spec(chart) -> dict:
    return json.loads(chart.to_json())


def params(chart) -> dict:
    """Selection parameters by name, wherever they sit in the layered spec."""
    found = {}

    def walk(node):
        if isinstance(node, dict):
            for param in node.get("params", []):
                if "select" in param:
                    found[param["name"]] = param["select"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec(chart))
    return found


def layer_data(chart) -> list[list[dict]]:
    """The inline rows of every dataset in a chart spec."""
    return list(spec(chart).get("datasets", {}).values())


def songs(n=5):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"song_id": range(1, n + 1), "title": [f"t{i}" for i in range(n)],
                         "artist": "a", "valence": rng.uniform(-1, 1, n),
                         "arousal": rng.uniform(-1, 1, n), "origin": ["demo", "dataset"] * 2 + ["demo"]})


def test_va_plane_fixes_both_axes_to_unit_range_and_names_quadrants():
    chart = plots.va_plane(plots.song_points(songs(), color="origin"))
    s = spec(chart)
    domains = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("field") in ("valence", "arousal", "zero") and "scale" in node:
                domains.append(node["scale"].get("domain"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(s)
    assert domains and all(d == [-1.0, 1.0] for d in domains)
    labels = {row["label"]: (row["valence"], row["arousal"])
              for rows in layer_data(chart) for row in rows if "label" in row}
    assert labels["tense · angry"][0] < 0 < labels["tense · angry"][1]
    assert labels["happy · excited"][0] > 0 and labels["happy · excited"][1] > 0
    assert labels["sad · depressed"][0] < 0 and labels["sad · depressed"][1] < 0
    assert labels["calm · relaxed"][0] > 0 > labels["calm · relaxed"][1]


def test_song_points_select_by_song_id_only_when_asked():
    assert params(plots.song_points(songs()))[plots.SONG_SELECTION]["fields"] == ["song_id"]
    assert plots.SONG_SELECTION not in params(plots.song_points(songs(), selectable=False))


def test_click_grid_covers_the_plane_and_picks_the_nearest_node():
    grid = plots.click_grid(step=0.1)
    select = params(grid)[plots.CLICK_SELECTION]
    assert select["nearest"] is True and select["fields"] == ["valence", "arousal"]
    rows = layer_data(grid)[0]
    assert len(rows) == 21 * 21
    values = {round(r["valence"], 3) for r in rows}
    assert min(values) == -1.0 and max(values) == 1.0


def test_uncertainty_ellipse_spans_one_std():
    chart = plots.uncertainty_ellipse(0.2, -0.3, 0.1, 0.25)
    rows = layer_data(chart)[0]
    v = np.array([r["valence"] for r in rows])
    a = np.array([r["arousal"] for r in rows])
    assert v.min() == pytest.approx(0.1, abs=1e-3) and v.max() == pytest.approx(0.3, abs=1e-3)
    assert a.min() == pytest.approx(-0.55, abs=1e-2) and a.max() == pytest.approx(-0.05, abs=1e-2)


def test_prediction_plane_draws_human_and_predicted_points():
    chart = plots.prediction_plane({"valence": 0.5, "arousal": 0.1, "valence_std": 0.1,
                                    "arousal_std": 0.1}, {"valence": -0.2, "arousal": 0.3})
    labels = {row.get("label") for rows in layer_data(chart) for row in rows}
    assert {"predicted", "human"} <= labels


def test_curves_long_has_both_dimensions_and_click_and_span_selections():
    curves = plots.curves_long([0.5, 1.0, 1.5], [0.1, 0.2, 0.3], [-0.1, 0.0, 0.1])
    assert len(curves) == 6 and set(curves.dimension) == {"valence", "arousal"}
    chart = plots.emotion_curves(curves, clickable=True, span=True)
    found = params(chart)
    assert found[plots.TIME_SELECTION]["fields"] == ["time"]
    assert found[plots.SPAN_SELECTION]["type"] == "interval"
    assert plots.TIME_SELECTION not in params(plots.emotion_curves(curves, clickable=False))


def test_waveform_envelope_bounds_the_signal():
    sr = 1000
    y = np.sin(np.linspace(0, 40 * np.pi, 5 * sr)).astype(np.float32) * 0.5
    rows = layer_data(plots.waveform(y, sr, points=100))[0]
    assert len(rows) == 100
    assert max(r["high"] for r in rows) == pytest.approx(0.5, abs=1e-3)
    assert min(r["low"] for r in rows) == pytest.approx(-0.5, abs=1e-3)
    assert rows[-1]["time"] < 5.0
    assert len(layer_data(plots.waveform(np.zeros(0), sr))[0]) >= 1


def test_projection_map_brush_and_sketch_overlay():
    df = songs().assign(raw_x=np.arange(5.0), raw_y=np.arange(5.0))
    chart = plots.projection_map(df, x="raw_x", y="raw_y", color="valence",
                                 color_title="human valence", title="Raw", selection_name="b")
    assert params(chart)["b"]["type"] == "interval"
    sketch = pd.DataFrame({"position": [0, 1], "dimension": "valence", "value": [0.0, 0.5]})
    overlay = plots.sketch_overlay(sketch, sketch.assign(title="x"))
    assert len(spec(overlay)["layer"]) == 2


def test_planes_and_curves_draw_on_canvas_for_thousands_of_marks():
    for chart in (plots.va_plane(plots.click_grid()),
                  plots.emotion_curves(plots.curves_long([0.5, 1.0], [0, 0], [0, 0]))):
        assert spec(chart)["usermeta"]["embedOptions"]["renderer"] == "canvas"


def test_curve_player_is_self_contained_and_draws_segments():
    import re

    curves = plots.curves_long(np.arange(1, 11) * 0.5, np.linspace(-1, 1, 10), np.zeros(10))
    segments = pd.DataFrame({"t0": [1.0], "t1": [3.0], "valence": [0.5], "arousal": [-0.25],
                             "annotator": ["<b>ana</b>"]})
    page = plots.curve_player_html(curves, audio_url="data:audio/wav;base64,AAAA", with_script=False,
                                   segments=segments, duration=5.0, element_id="t")
    assert 'id="t-player"' in page and 'id="t-playhead"' in page and 'id="t-curves"' in page
    assert page.count('class="curve"') == 2 and page.count('class="segment"') == 1
    assert "&lt;b&gt;ana&lt;/b&gt;: valence +0.50, arousal -0.25" in page  # escaped
    assert "<b>ana</b>" not in page
    # Nothing is fetched: the only URLs are the inline audio and the SVG namespace-free markup.
    assert not re.search(r"(src|href)=\"https?://", page) and "http" not in page
    # A segment from 1 s to 3 s on a 5 s axis of 710 units starting at 40.
    band = re.search(r'<rect x="([\d.]+)" y="10" width="([\d.]+)"[^>]*opacity="0.25"', page)
    assert float(band.group(1)) == pytest.approx(40 + 710 * 0.2)
    assert float(band.group(2)) == pytest.approx(710 * 0.4)


def test_curve_player_without_audio_says_so():
    curves = plots.curves_long([0.5, 1.0], [0.1, 0.2], [0.0, 0.1])
    page = plots.curve_player_html(curves, with_script=False)
    assert "<audio" not in page and "No audio file" in page


def test_curve_player_script_carries_the_markup_safely():
    import json
    import re

    curves = plots.curves_long([0.5, 1.0], [0.1, 0.2], [0.0, 0.1])
    page = plots.curve_player_html(curves, element_id="p")
    assert page.startswith('<div id="p-box"></div>')
    script = page[page.index("<script>") + len("<script>"):page.index("</script>")]
    assert "<" not in script  # a script that looks like markup is dropped by st.html
    literal = re.search(r'innerHTML = (".*?");\n', page).group(1)
    assert json.loads(literal) == plots.curve_player_html(
        curves, element_id="p", with_script=False)


def test_curve_chart_draws_the_uncertainty_band_only_when_given():
    import numpy as np

    from emolab import plots

    t = np.arange(1, 6) * 0.5
    plain = plots.emotion_curves(plots.curves_long(t, t / 10, -t / 10), duration=3.0).to_dict()
    banded = plots.curves_long(t, t / 10, -t / 10, std=(np.full(5, 0.2), np.full(5, 0.3)))
    assert set(banded["std"]) == {0.2, 0.3}
    chart = plots.emotion_curves(banded, duration=3.0).to_dict()
    marks = [layer.get("mark", {}).get("type", layer.get("mark")) for layer in chart["layer"]]
    assert "area" in marks and "area" not in [layer.get("mark", {}).get("type", layer.get("mark"))
                                              for layer in plain["layer"]]
