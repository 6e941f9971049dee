"""Import a folder: analyse every recording in a folder and add it to the library."""
import pandas as pd
import streamlit as st

from emolab import ui
from emolab.exceptions import EmolabError

st.title("Import a folder")
st.caption("EmoLab analyses every .wav, .mp3, .flac and .ogg file in the folder and its "
           "subfolders (features, emotion predictions) and adds it to the library. Files "
           "already in the library are skipped, so importing a folder again resumes an "
           "import that was cancelled or interrupted.")

job = ui.current_import()
running = job is not None and job.running
folder = st.text_input("Folder on this computer", key="import_folder",
                       placeholder="/home/me/Music/corpus", disabled=running)
if st.button("Import", type="primary", disabled=running, key="import_start"):
    try:
        job = ui.start_import(folder)
        running = True
    except EmolabError as exc:
        ui.show_error(exc)


@st.fragment(run_every=1.0 if running else None)
def progress_panel():
    job = ui.current_import()
    if job is None:
        return
    seen = st.session_state.get("import_seen")
    if seen != (id(job), job.done, job.state):  # the library changed: read it again
        st.session_state["import_seen"] = (id(job), job.done, job.state)
        ui.index_changed()
    st.markdown(f"**{job.folder}** — {job.found} audio files")
    st.progress(job.fraction, text=job.summary())
    if job.running:
        if st.button("Cancel", key="import_cancel"):
            job.cancel()
            st.caption("Stopping after the files being analysed now…")
        return
    if job.state == "finished":
        st.success(job.summary())
    elif job.state == "cancelled":
        st.warning(job.summary())
    else:
        st.error(job.summary())
    if job.failures:
        st.markdown(f"**{len(job.failures)} files could not be imported**")
        st.dataframe(pd.DataFrame(job.failures, columns=["file", "reason"]), hide_index=True,
                     key="import_failures", column_config={"reason": st.column_config.TextColumn(
                         width="large")})
    if job.state != "running" and running:
        st.rerun()  # the whole page: enable the form again


progress_panel()
