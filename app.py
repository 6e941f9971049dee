"""EmoLab: perceived emotion in music. Run with ``streamlit run app.py``.

No icons on pages and buttons: a ``:material/…:`` icon makes the browser fetch
fonts.gstatic.com (EmoLab never reaches the network), and emoji need a font the machine
may lack. The favicon is an emoji that Streamlit draws inline (a data: URL).
"""
import streamlit as st

from emolab import ui

st.set_page_config(page_title="EmoLab", page_icon="🎵", layout="wide")

PAGES = [
    st.Page("pages/library.py", title="Library", default=True),
    st.Page("pages/import_folder.py", title="Import a folder"),
    st.Page("pages/analyse.py", title="Analyse"),
    st.Page("pages/explore.py", title="Explore spaces"),
    st.Page("pages/search.py", title="Search by emotion"),
    st.Page("pages/sketch.py", title="Sketch a profile"),
    st.Page("pages/query.py", title="Query"),
    st.Page("pages/annotate.py", title="Annotate & export"),
    st.Page("pages/models.py", title="Models"),
]

page = st.navigation(PAGES)
with st.sidebar:
    st.markdown("### EmoLab")
    st.caption("Perceived emotion in music: valence (unpleasant → pleasant) and "
               "arousal (calm → excited), both on −1 … 1.")
    st.caption(f"Index: `{ui.default_db_path().name}`")
page.run()
if not ui.warm_up_disabled():
    ui.warm_up_in_background()
