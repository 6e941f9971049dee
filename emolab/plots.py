"""Altair chart builders for the app. They return charts and never call Streamlit.

Every valence–arousal plane has valence on x and arousal on y, both fixed to [-1, 1],
with the four quadrants named after Russell's circumplex. Charts that the user clicks on
carry a named selection parameter (see the ``*_SELECTION`` constants), which
``st.altair_chart(..., on_select="rerun")`` reports back.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

#: Name of the selection a click on an empty V–A plane fills (fields valence, arousal).
CLICK_SELECTION = "va_click"
#: Name of the selection that picks songs (field song_id).
SONG_SELECTION = "song_pick"
#: Name of the selection a click on an emotion curve fills (field time).
TIME_SELECTION = "time_pick"
#: Name of the interval selection dragged over an emotion curve (field time).
SPAN_SELECTION = "time_span"

QUADRANTS = (
    (-0.55, 0.92, "tense · angry"),
    (0.55, 0.92, "happy · excited"),
    (-0.55, -0.92, "sad · depressed"),
    (0.55, -0.92, "calm · relaxed"),
)
VALENCE_COLOR = "#c2185b"
AROUSAL_COLOR = "#1565c0"
UNIT_DOMAIN = [-1.0, 1.0]
#: Width kept for the y axis of stacked time charts, so their time axes line up.
AXIS_EXTENT = 36


def canvas(chart):
    """Draw with Vega's canvas renderer: thousands of marks stay fast (SVG makes a node each)."""
    return chart.properties(usermeta={"embedOptions": {"renderer": "canvas"}})


def _unit_axis(field: str, title: str) -> dict:
    return {"field": field, "type": "quantitative", "title": title,
            "scale": alt.Scale(domain=UNIT_DOMAIN, nice=False, clamp=True)}


def va_frame() -> alt.LayerChart:
    """The empty plane: zero lines and quadrant labels.

    Returns
    -------
    alt.LayerChart
        Layer it under points with ``alt.layer(va_frame(), ...)``.
    """
    zero = pd.DataFrame({"zero": [0.0]})
    vertical = alt.Chart(zero).mark_rule(color="#9e9e9e", strokeDash=[4, 4]).encode(
        x=alt.X(**_unit_axis("zero", "valence")))
    horizontal = alt.Chart(zero).mark_rule(color="#9e9e9e", strokeDash=[4, 4]).encode(
        y=alt.Y(**_unit_axis("zero", "arousal")))
    labels = pd.DataFrame(QUADRANTS, columns=["valence", "arousal", "label"])
    text = alt.Chart(labels).mark_text(color="#757575", fontStyle="italic", fontSize=13).encode(
        x=alt.X(**_unit_axis("valence", "valence")),
        y=alt.Y(**_unit_axis("arousal", "arousal")),
        text="label:N",
    )
    return alt.layer(vertical, horizontal, text)


def click_grid(*, step: float = 0.05) -> alt.Chart:
    """An invisible grid covering the plane; a click anywhere selects the nearest node.

    The selection is named :data:`CLICK_SELECTION` and reports ``valence`` and ``arousal``.
    """
    ticks = np.round(np.arange(-1.0, 1.0 + step / 2, step), 4)
    v, a = np.meshgrid(ticks, ticks)
    grid = pd.DataFrame({"valence": v.ravel(), "arousal": a.ravel()})
    pick = alt.selection_point(name=CLICK_SELECTION, fields=["valence", "arousal"],
                               nearest=True, on="click", empty=False, clear=False)
    return alt.Chart(grid).mark_point(opacity=0.001, size=30, aria=False).encode(
        x=alt.X(**_unit_axis("valence", "valence")),
        y=alt.Y(**_unit_axis("arousal", "arousal")),
        tooltip=[alt.Tooltip("valence:Q", format=".2f"), alt.Tooltip("arousal:Q", format=".2f")],
    ).add_params(pick)


def song_points(songs: pd.DataFrame, *, x: str = "valence", y: str = "arousal",
                color: str | None = None, color_title: str | None = None,
                selectable: bool = True, size: int = 60, opacity: float = 0.75,
                tooltip: list[str] | None = None) -> alt.Chart:
    """Songs as dots on the V–A plane.

    Parameters
    ----------
    songs : pd.DataFrame
        One row per song with ``song_id``, ``title``, ``artist`` and the columns ``x``/``y``.
    color : str, optional
        Column to colour by (nominal when text, a diverging scale when numeric).
    selectable : bool
        Add the :data:`SONG_SELECTION` click selection on ``song_id``.
    """
    tooltip = tooltip or ["title", "artist"]
    keep = ["song_id", x, y, *tooltip] + ([color] if color else [])
    songs = songs[[c for c in dict.fromkeys(keep) if c in songs]].copy()
    for column in ("title", "artist"):
        if column not in songs:
            songs[column] = ""
    enc = {
        "x": alt.X(**_unit_axis(x, "valence")),
        "y": alt.Y(**_unit_axis(y, "arousal")),
        "tooltip": [alt.Tooltip(c, format=".2f") if pd.api.types.is_float_dtype(songs[c])
                    else alt.Tooltip(c) for c in tooltip if c in songs] +
                   [alt.Tooltip(f"{x}:Q", title="valence", format=".2f"),
                    alt.Tooltip(f"{y}:Q", title="arousal", format=".2f")],
    }
    if color is not None and color in songs:
        enc["color"] = _color(songs, color, color_title)
    chart = alt.Chart(songs).mark_circle(size=size, opacity=opacity).encode(**enc)
    if selectable:
        pick = alt.selection_point(name=SONG_SELECTION, fields=["song_id"], on="click",
                                   empty=False)
        chart = chart.add_params(pick)
    return chart


def _color(df: pd.DataFrame, column: str, title: str | None):
    if pd.api.types.is_numeric_dtype(df[column]) and not pd.api.types.is_bool_dtype(df[column]):
        return alt.Color(f"{column}:Q", title=title or column,
                         scale=alt.Scale(scheme="redblue", domain=UNIT_DOMAIN, reverse=True))
    return alt.Color(f"{column}:N", title=title or column,
                     scale=alt.Scale(scheme="tableau10"))


def marker(valence: float, arousal: float, *, color: str = "#212121", label: str = "",
           shape: str = "cross", size: int = 260) -> alt.Chart:
    """One emphasised point (the query point, a prediction...)."""
    df = pd.DataFrame({"valence": [valence], "arousal": [arousal], "label": [label]})
    return alt.Chart(df).mark_point(shape=shape, size=size, color=color, filled=True,
                                    strokeWidth=2).encode(
        x=alt.X(**_unit_axis("valence", "valence")),
        y=alt.Y(**_unit_axis("arousal", "arousal")),
        tooltip=["label:N", alt.Tooltip("valence:Q", format=".2f"),
                 alt.Tooltip("arousal:Q", format=".2f")],
    )


def uncertainty_ellipse(valence: float, arousal: float, valence_std: float, arousal_std: float,
                        *, color: str = "#6a1b9a", n: int = 64) -> alt.Chart:
    """The one-standard-deviation ellipse around a prediction."""
    angle = np.linspace(0, 2 * np.pi, n)
    df = pd.DataFrame({
        "valence": valence + max(valence_std, 1e-3) * np.cos(angle),
        "arousal": arousal + max(arousal_std, 1e-3) * np.sin(angle),
        "order": np.arange(n),
    })
    return alt.Chart(df).mark_line(color=color, strokeDash=[3, 3], opacity=0.8).encode(
        x=alt.X(**_unit_axis("valence", "valence")),
        y=alt.Y(**_unit_axis("arousal", "arousal")),
        order="order:Q",
    )


def va_plane(*layers, height: int = 420, title: str | None = None) -> alt.LayerChart:
    """The plane with quadrant labels under the given layers, square and fixed to [-1, 1]."""
    chart = canvas(alt.layer(va_frame(), *layers).properties(height=height, width=height))
    if title:
        chart = chart.properties(title=title)
    return chart.configure_axis(grid=True, gridOpacity=0.35).configure_view(stroke="#bdbdbd")


def prediction_plane(static: dict | None, human: dict | None = None, *,
                     height: int = 380) -> alt.LayerChart:
    """The static prediction (point and one-sd ellipse) and the human label beside it."""
    layers = []
    if static is not None:
        layers.append(uncertainty_ellipse(static["valence"], static["arousal"],
                                          static.get("valence_std") or 0.0,
                                          static.get("arousal_std") or 0.0))
        layers.append(marker(static["valence"], static["arousal"], color="#6a1b9a",
                             label="predicted", shape="circle", size=180))
    if human is not None:
        layers.append(marker(human["valence"], human["arousal"], color="#ef6c00",
                             label="human", shape="diamond", size=200))
    return va_plane(*layers, height=height)


def curves_long(times, valence, arousal, *, source: str = "predicted", std=None) -> pd.DataFrame:
    """Long-format curves: columns time, dimension, value, source (and ``std``).

    ``std``: optional ``(valence_std, arousal_std)``, each shape (n,): the uncertainty that
    :func:`emotion_curves` draws as a band of ± 1 std.
    """
    times = np.asarray(times, dtype=float)
    parts = []
    for j, (dim, value) in enumerate((("valence", valence), ("arousal", arousal))):
        part = pd.DataFrame({"time": times, "dimension": dim, "value": np.asarray(value, float),
                             "source": source})
        if std is not None:
            part["std"] = np.asarray(std[j], float)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def emotion_curves(curves: pd.DataFrame, *, height: int = 220, clickable: bool = True,
                   span: bool = False, duration: float | None = None,
                   width: int | str = "container") -> alt.LayerChart:
    """Valence and arousal over time (human dashed, predicted solid).

    Parameters
    ----------
    curves : pd.DataFrame
        Long format with ``time``, ``dimension`` (valence/arousal), ``value`` and ``source``.
    clickable : bool
        A click picks the nearest time (:data:`TIME_SELECTION`), e.g. to play from there.
    span : bool
        Dragging selects a time span (:data:`SPAN_SELECTION`), e.g. for a segment label.
    duration : float, optional
        Right end of the time axis (to line up with a waveform); default the last point.
    """
    end = float(duration) if duration else float(curves["time"].max() if len(curves) else 1.0)
    x = alt.X("time:Q", title="time (s)", scale=alt.Scale(domain=[0, end], nice=False))
    y = alt.Y("value:Q", title="emotion", scale=alt.Scale(domain=UNIT_DOMAIN, nice=False),
              axis=alt.Axis(minExtent=AXIS_EXTENT, maxExtent=AXIS_EXTENT))
    sources = [s for s in ("predicted", "human", "sketch") if s in set(curves["source"])]
    dashes = {"predicted": [1, 0], "human": [6, 3], "sketch": [2, 2]}
    lines = alt.Chart(curves).mark_line(strokeWidth=2).encode(
        x=x, y=y,
        color=alt.Color("dimension:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=["valence", "arousal"],
                                        range=[VALENCE_COLOR, AROUSAL_COLOR])),
        strokeDash=alt.StrokeDash("source:N", title=None, legend=alt.Legend(orient="top"),
                                  scale=alt.Scale(domain=sources or ["predicted"],
                                                  range=[dashes[s] for s in sources] or [[1, 0]])),
    )
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#bdbdbd").encode(y="zero:Q")
    layers = [zero, *uncertainty_band(curves, x=x), lines]
    if clickable:
        pick = alt.selection_point(name=TIME_SELECTION, fields=["time"], nearest=True,
                                   on="click", empty=False)
        layers.append(alt.Chart(curves).mark_point(opacity=0.001, size=80).encode(
            x=x, y=y,
            tooltip=[alt.Tooltip("time:Q", format=".1f"), "dimension:N", "source:N",
                     alt.Tooltip("value:Q", format=".2f")]).add_params(pick))
    if span:
        brush = alt.selection_interval(name=SPAN_SELECTION, encodings=["x"])
        layers.append(alt.Chart(curves).mark_line(opacity=0).encode(x=x, y=y).add_params(brush))
    return canvas(alt.layer(*layers).properties(height=height, width=width))


def uncertainty_band(curves: pd.DataFrame, *, x) -> list:
    """The ± 1 std band around each curve with a finite ``std`` column (none without one)."""
    if "std" not in curves:
        return []
    band = curves[np.isfinite(curves["std"].astype(float))]
    if band.empty:
        return []
    band = band.assign(low=(band["value"] - band["std"]).clip(-1, 1),
                       high=(band["value"] + band["std"]).clip(-1, 1))
    return [alt.Chart(band).mark_area(opacity=0.18).encode(
        x=x, y=alt.Y("low:Q", title="emotion", scale=alt.Scale(domain=UNIT_DOMAIN, nice=False)), y2="high:Q",
        color=alt.Color("dimension:N", legend=None,
                        scale=alt.Scale(domain=["valence", "arousal"], range=[VALENCE_COLOR, AROUSAL_COLOR])),
        detail="source:N",
        tooltip=[alt.Tooltip("time:Q", format=".1f"), "dimension:N",
                 alt.Tooltip("std:Q", title="uncertainty (± 1 std)", format=".2f")])]


def waveform(y: np.ndarray, sr: int, *, points: int = 800, height: int = 90,
             width: int | str = "container") -> alt.Chart:
    """The amplitude envelope (min/max per column) of a recording."""
    y = np.asarray(y, dtype=np.float32).ravel()
    if y.size == 0:
        y = np.zeros(2, dtype=np.float32)
    blocks = max(1, int(np.ceil(y.size / points)))
    pad = (-y.size) % blocks
    frames = np.pad(y, (0, pad)).reshape(-1, blocks)
    df = pd.DataFrame({"time": np.arange(frames.shape[0]) * blocks / sr,
                       "low": frames.min(axis=1), "high": frames.max(axis=1)})
    duration = y.size / sr
    return alt.Chart(df).mark_area(color="#78909c", opacity=0.7).encode(
        x=alt.X("time:Q", title=None, scale=alt.Scale(domain=[0, duration], nice=False)),
        y=alt.Y("low:Q", title="waveform",
                axis=alt.Axis(labels=False, ticks=False, minExtent=AXIS_EXTENT,
                              maxExtent=AXIS_EXTENT)),
        y2="high:Q",
    ).properties(height=height, width=width)


def projection_map(points: pd.DataFrame, *, x: str, y: str, color: str, color_title: str,
                   title: str, height: int = 380, selection_name: str = SONG_SELECTION
                   ) -> alt.Chart:
    """A 2-D map (t-SNE/UMAP) of songs coloured by emotion, with a brush to pick songs.

    The brush reports ``{x: [low, high], y: [low, high]}`` under ``selection_name``.
    """
    brush = alt.selection_interval(name=selection_name, encodings=["x", "y"])
    tooltip = [c for c in ("title", "artist") if c in points]
    tooltip += [alt.Tooltip(c, format=".2f") for c in ("valence", "arousal") if c in points]
    return canvas(alt.Chart(points).mark_circle(size=45).encode(
        x=alt.X(f"{x}:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y(f"{y}:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
        color=alt.condition(brush, _color(points, color, color_title), alt.value("#e0e0e0")),
        tooltip=tooltip,
    ).add_params(brush).properties(height=height, title=title))


def sketch_overlay(sketch: pd.DataFrame, matches: pd.DataFrame | None = None, *,
                   height: int = 240) -> alt.Chart:
    """The drawn profile (thick) with matched songs' curves (thin) on a 0–1 time axis.

    Values beyond [-1, 1] (z-normalised shapes, see :func:`emolab.search.compared_curves`)
    get a free axis titled "shape (z-score)".

    Parameters
    ----------
    sketch : pd.DataFrame
        Columns ``position`` (0–1), ``dimension``, ``value``.
    matches : pd.DataFrame, optional
        Same columns plus ``title``.
    """
    scale = alt.Scale(domain=["valence", "arousal"], range=[VALENCE_COLOR, AROUSAL_COLOR])
    values = pd.concat([sketch["value"]] + ([] if matches is None else [matches["value"]]))
    unit = bool(values.abs().max() <= 1.0) if len(values) else True  # else z-normalised shapes
    drawn = alt.Chart(sketch).mark_line(strokeWidth=5, opacity=0.45).encode(
        x=alt.X("position:Q", title="position in the profile", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("value:Q", title="emotion" if unit else "shape (z-score)",
                scale=alt.Scale(domain=UNIT_DOMAIN, nice=False) if unit else alt.Scale(zero=False)),
        color=alt.Color("dimension:N", scale=scale, title=None),
        detail="dimension:N",
    )
    layers = [drawn]
    if matches is not None and not matches.empty:
        layers.append(alt.Chart(matches).mark_line(strokeWidth=1.4).encode(
            x="position:Q", y="value:Q",
            color=alt.Color("dimension:N", scale=scale, title=None),
            detail="title:N",
            tooltip=["title:N", "dimension:N"],
        ))
    return canvas(alt.layer(*layers).properties(height=height, width="container"))


# ------------------------------------------------------------------ player with a playhead

def curve_player_html(curves: pd.DataFrame, *, audio_url: str | None = None,
                      segments: pd.DataFrame | None = None, duration: float | None = None,
                      start: float = 0.0, width: int = 760, height: int = 200,
                      element_id: str = "emolab", with_script: bool = True) -> str:
    """An audio player above the emotion curves, with a playhead that follows the audio.

    Self-contained HTML (inline SVG and script, nothing fetched from the network) for
    ``st.html(..., unsafe_allow_javascript=True)``. Clicking the curves seeks the player there; saved
    segment annotations are drawn as shaded bands with their valence and arousal.

    Parameters
    ----------
    curves : pd.DataFrame
        Long format: ``time``, ``dimension`` (valence/arousal), ``value``, ``source``
        (predicted solid, human dashed), optionally ``std`` (drawn as a band ± std).
    audio_url : str, optional
        A ``data:`` URL (or a same-origin URL) of the recording; without it no player.
    segments : pd.DataFrame, optional
        Columns ``t0``, ``t1``, ``valence``, ``arousal``, ``annotator``.
    duration : float, optional
        Right end of the time axis (default: the last curve point).
    start : float
        Where the player starts, in seconds.
    element_id : str
        Prefix of the elements' ids (``<id>-player``, ``<id>-playhead``, ``<id>-curves``);
        unique per page.
    with_script : bool
        False: only the markup (player, curves, bands), without the script that draws
        it into the page and moves the playhead.

    Returns
    -------
    str
        The HTML document.
    """
    import html
    import json

    end = float(duration) if duration else float(curves["time"].max() if len(curves) else 1.0)
    end = max(end, 1e-3)
    left, right, top, bottom = 40, 10, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(t):
        return left + plot_w * min(max(float(t) / end, 0.0), 1.0)

    def py(v):
        return top + plot_h * (1.0 - (min(max(float(v), -1.0), 1.0) + 1.0) / 2.0)

    parts = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fdfcf9" '
             'stroke="#bdbdbd"/>',
             f'<line x1="{left}" x2="{left + plot_w}" y1="{py(0)}" y2="{py(0)}" stroke="#bdbdbd"/>']
    for value in (-1, 0, 1):
        parts.append(f'<text x="{left - 6}" y="{py(value) + 4}" text-anchor="end" '
                     f'font-size="11" fill="#616161">{value:+d}</text>')
    for tick in np.linspace(0, end, 6):
        parts.append(f'<text x="{px(tick)}" y="{height - 6}" text-anchor="middle" font-size="11" '
                     f'fill="#616161">{tick:.0f} s</text>')
    for row in (segments.itertuples() if segments is not None else []):
        x0, x1 = px(row.t0), px(row.t1)
        label = html.escape(f"{getattr(row, 'annotator', '') or 'segment'}: valence "
                            f"{row.valence:+.2f}, arousal {row.arousal:+.2f}")
        parts.append(f'<g class="segment"><rect x="{x0}" y="{top}" width="{max(x1 - x0, 1)}" '
                     f'height="{plot_h}" fill="#ffb74d" opacity="0.25"><title>{label}</title></rect>'
                     f'<text x="{x0 + 3}" y="{top + 12}" font-size="10" fill="#e65100">'
                     f'{label}</text></g>')
    colours = {"valence": VALENCE_COLOR, "arousal": AROUSAL_COLOR}
    for (source, dimension), curve in curves.groupby(["source", "dimension"]):
        curve = curve.sort_values("time")
        if "std" in curve and np.isfinite(curve["std"].to_numpy(dtype=float)).any():
            band = curve[np.isfinite(curve["std"].to_numpy(dtype=float))]
            upper = [f"{px(t):.1f},{py(v + d):.1f}" for t, v, d in
                     zip(band["time"], band["value"], band["std"])]
            lower = [f"{px(t):.1f},{py(v - d):.1f}" for t, v, d in
                     zip(band["time"][::-1], band["value"][::-1], band["std"][::-1])]
            parts.append(f'<polygon class="band" points="{" ".join(upper + lower)}" '
                         f'fill="{colours.get(dimension, "#424242")}" opacity="0.12"/>')
        points = " ".join(f"{px(t):.1f},{py(v):.1f}" for t, v in zip(curve["time"], curve["value"])
                          if np.isfinite(v))
        dash = ' stroke-dasharray="6,3"' if source == "human" else ""
        parts.append(f'<polyline class="curve" data-source="{html.escape(str(source))}" '
                     f'data-dimension="{html.escape(str(dimension))}" points="{points}" fill="none" '
                     f'stroke="{colours.get(dimension, "#424242")}" stroke-width="2"{dash}/>')
    ident = html.escape(element_id)
    parts.append(f'<line id="{ident}-playhead" x1="{px(start)}" x2="{px(start)}" y1="{top}" '
                 f'y2="{top + plot_h}" stroke="#212121" stroke-width="2"/>')
    legend = ('<span style="color:%s">━ valence</span> &nbsp; <span style="color:%s">━ arousal'
              '</span> &nbsp; solid: predicted, dashed: human%s' % (
                  VALENCE_COLOR, AROUSAL_COLOR,
                  ", orange bands: saved segment labels" if segments is not None
                  and len(segments) else ""))
    player = (f'<audio id="{ident}-player" controls preload="metadata" style="width:100%" '
              f'src="{html.escape(audio_url)}"></audio>' if audio_url else
              '<div style="font-size:12px;color:#616161">No audio file is stored for this '
              'song.</div>')
    markup = (f'<div style="font-family:serif">{player}'
              f'<svg id="{ident}-curves" viewBox="0 0 {width} {height}" width="100%" '
              'style="cursor:pointer">'
              + "".join(parts) + f'</svg><div style="font-size:12px;color:#424242">{legend}. '
              'Click the curves to play from there; the black line follows the music.</div>'
              '</div>')
    if not with_script:
        return markup
    # st.html sanitises inline SVG away, so the script draws the markup itself; the markup
    # travels as a JSON string without a single "<" (the sanitiser drops a script whose
    # text looks like markup).
    script = """
<script>
(() => {
const END = %s, LEFT = %s, WIDTH = %s, START = %s, ID = %s;
document.getElementById(ID + "-box").innerHTML = %s;
const audio = document.getElementById(ID + "-player");
const head = document.getElementById(ID + "-playhead");
const svg = document.getElementById(ID + "-curves");
function place(t) {
  const x = LEFT + WIDTH * Math.min(Math.max(t / END, 0), 1);
  head.setAttribute("x1", x); head.setAttribute("x2", x);
}
if (audio) {
  audio.addEventListener("loadedmetadata", () => { if (START > 0) audio.currentTime = START; });
  const tick = () => { place(audio.currentTime); if (!audio.paused) requestAnimationFrame(tick); };
  audio.addEventListener("play", tick);
  audio.addEventListener("timeupdate", () => place(audio.currentTime));
  audio.addEventListener("seeked", () => place(audio.currentTime));
  svg.addEventListener("click", (event) => {
    const box = svg.getBoundingClientRect();
    const x = (event.clientX - box.left) / box.width * %s;
    const t = (x - LEFT) / WIDTH * END;
    audio.currentTime = Math.min(Math.max(t, 0), END);
    place(audio.currentTime);
    audio.play();
  });
}
})();
</script>""" % (json.dumps(end), left, plot_w, json.dumps(float(start)), json.dumps(element_id),
                 json.dumps(markup).replace("<", "\\u003c"), width)
    return f'<div id="{ident}-box"></div>' + script
