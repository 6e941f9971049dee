"""Analyse: the predicted emotion of an uploaded recording or of a library song."""
import pandas as pd
import streamlit as st

from emolab import pipeline, plots, ui
from emolab.exceptions import EmolabError

st.title("Analyse")
index = ui.get_index()
TRAIN_STATIC = "`python -m emolab train-static --features …` (see the Models page)"
TRAIN_DYNAMIC = "`python -m emolab train-dynamic` (see the Models page)"


def show_emotion(*, static, human, curves: pd.DataFrame, wave, audio, key: str,
                 versions: dict, segments=None, silent: bool = False):
    """The V–A point, the curves under the waveform with a playhead, and where they come from."""
    plane_col, curve_col = st.columns([4, 7])
    with plane_col:
        st.markdown("**Whole-song emotion**")
        if silent:
            st.info("No emotion is shown: the recording is silent, so there is no music to "
                    "read one from.")
        elif static is None and human is None:
            ui.missing("No static prediction for this recording: the static model is not "
                       "trained yet.", TRAIN_STATIC)
        else:
            st.altair_chart(plots.prediction_plane(static, human, height=340), key=f"{key}_plane")
            lines = []
            if static is not None:
                lines.append(f"predicted valence **{static['valence']:+.2f}** "
                             f"± {static.get('valence_std') or 0:.2f}, arousal "
                             f"**{static['arousal']:+.2f}** ± {static.get('arousal_std') or 0:.2f}")
            if human is not None:
                lines.append(f"human valence **{human['valence']:+.2f}**, "
                             f"arousal **{human['arousal']:+.2f}**")
            st.caption("  \n".join(lines))
            if static is not None:
                ui.provenance_caption(versions=[versions.get("static") or "unknown"],
                                      dynamic=versions.get("dynamic") if not curves.empty else None,
                                      plus_minus=True)
    with curve_col:
        st.markdown("**Emotion over time**")
        if wave is not None:
            st.altair_chart(plots.waveform(*wave), key=f"{key}_wave")
        if curves.empty and not silent:
            ui.missing("No valence and arousal curves for this recording: the dynamic model "
                       "is not trained yet.", TRAIN_DYNAMIC)
        duration = len(wave[0]) / wave[1] if wave is not None else None
        ui.curve_player(curves, audio=audio, segments=segments, duration=duration, key=key)


def analyse_uploads(files) -> None:
    done = st.session_state.setdefault("analyses", {})
    todo = [f for f in files if f.file_id not in done]
    if todo:
        analyser = ui.analysis_worker()
        bar = st.progress(0.0, text="Analysing…")
        for i, uploaded in enumerate(todo):
            def progress(fraction, stage, i=i, name=uploaded.name):
                overall = (i + min(max(fraction, 0.0), 1.0)) / len(todo)
                bar.progress(overall, text=f"{name}: {stage}… ({overall:.0%})")

            progress(0.0, "starting the analysis")
            try:
                data = ui.read_upload(uploaded)
                done[uploaded.file_id] = (analyser.analyse(data, name=uploaded.name,
                                                           progress=progress), data)
            except EmolabError as exc:
                done[uploaded.file_id] = (None, str(exc))
        bar.empty()
    names = {f.file_id: f.name for f in files}
    choice = st.radio("Recording", list(names), format_func=names.get, horizontal=True,
                      key="upload_choice") if len(files) > 1 else files[0].file_id
    analysis, data = done[choice]
    if analysis is None:
        st.error(f"{names[choice]}: {data}")
        return
    show_upload(analysis, data)


def show_upload(analysis, data: bytes) -> None:
    st.subheader(analysis.name)
    st.caption(f"{analysis.duration:.1f} s · {analysis.sample_rate} Hz · "
               f"{analysis.channels} channel{'s' if analysis.channels > 1 else ''}")
    if analysis.silent:
        st.warning(f"“{analysis.name}” is silent: there is no music in it to read an emotion "
                   "from, so nothing is predicted and it cannot be added to the library.")
    for note in analysis.notes:
        if not analysis.silent:
            st.warning(note)
    curves = pd.DataFrame(columns=["time", "dimension", "value", "source"])
    if analysis.dynamic is not None and not analysis.silent:
        curves = plots.curves_long(*analysis.dynamic, std=analysis.dynamic_std)
    show_emotion(static=None if analysis.silent else analysis.static, human=None, curves=curves,
                 wave=ui.waveform_of(data), audio=(data, analysis.name), key="upload",
                 versions=analysis.model_versions, silent=analysis.silent)
    title = st.text_input("Title", value=analysis.name.rsplit(".", 1)[0], key="upload_title")
    artist = st.text_input("Artist or composer", key="upload_artist")
    if st.button("Add to library", type="primary", disabled=analysis.silent,
                 help="A silent recording has no emotion to store." if analysis.silent else None):
        try:
            path = ui.save_upload(data, analysis.name, analysis.content_hash)
            song_id = pipeline.add_to_index(
                index, analysis, origin="uploaded", title=title, artist=artist or None,
                source_path=str(path))
        except EmolabError as exc:
            ui.show_error(exc)
            return
        ui.index_changed()
        ui.select_song(song_id)
        st.success(f"Added “{title}” to the library (song {song_id}).")


def show_library_song(table: pd.DataFrame) -> None:
    song_id = ui.song_picker(table, key="analyse_song")
    if song_id is None:
        return
    row = table.set_index("song_id").loc[song_id]
    st.subheader(row["label"])
    facts = [str(row["origin"])]
    if isinstance(row["dataset"], str):
        facts.append(f"{row['dataset']} #{row['dataset_id']}")
    if pd.notna(row["duration"]):
        facts.append(f"{row['duration']:.0f} s")
    st.caption(" · ".join(facts))
    static = None if pd.isna(row["pred_valence"]) else {
        "valence": row["pred_valence"], "arousal": row["pred_arousal"],
        "valence_std": row["pred_valence_std"] if pd.notna(row["pred_valence_std"]) else 0.0,
        "arousal_std": row["pred_arousal_std"] if pd.notna(row["pred_arousal_std"]) else 0.0}
    human = None if pd.isna(row["human_valence"]) else {
        "valence": row["human_valence"], "arousal": row["human_arousal"]}
    source = row["source_path"] if isinstance(row["source_path"], str) else None
    if source is not None and not ui.file_exists(source):
        source = None
    curves = ui.song_curves(song_id)
    dynamic = curves.loc[curves["source"] == "predicted", "model_version"].dropna()
    show_emotion(static=static, human=human, curves=curves,
                 wave=ui.waveform_of(source) if source else None, audio=source,
                 key=f"song{song_id}", segments=ui.segment_labels(song_id),
                 versions={"static": row.get("pred_model_version"),
                           "dynamic": dynamic.iloc[0] if len(dynamic) else None})


mode = st.segmented_control("Source", ["Upload recordings", "Library song"],
                            default="Library song" if ui.selected_song() else "Upload recordings",
                            key="analyse_mode") or "Upload recordings"
if mode == "Upload recordings":
    files = st.file_uploader("Audio files (wav, mp3, flac, ogg)", type=ui.UPLOAD_TYPES,
                             accept_multiple_files=True, key="uploads")
    if files:
        analyse_uploads(files)
    else:
        st.caption("Drop one or several recordings: EmoLab computes the DEAM-compatible audio "
                   "features, predicts the song's valence and arousal and their course over "
                   "time. Nothing is stored until you press “Add to library”.")
else:
    table = ui.song_table()
    if table.empty:
        st.info("The library is empty: upload a recording instead.")
    else:
        show_library_song(table)
