"""EmoLab: perceived emotion in music. Run with ``streamlit run app.py``.

Icons are emoji: a ``:material/…:`` page icon makes the browser fetch the favicon from
fonts.gstatic.com, and EmoLab never reaches the network.
"""
import streamlit as st

from emolab import ui

st.set_page_config(page_title="EmoLab", page_icon="🎵", layout="wide")

PAGES = [
    st.Page("pages/library.py", title="Library", icon="📚", default=True),
    st.Page("pages/analyse.py", title="Analyse", icon="🎧"),
    st.Page("pages/explore.py", title="Explore spaces", icon="🗺️"),
    st.Page("pages/search.py", title="Search by emotion", icon="🎯"),
    st.Page("pages/sketch.py", title="Sketch a profile", icon="✍️"),
    st.Page("pages/query.py", title="Query", icon="🗄️"),
    st.Page("pages/annotate.py", title="Annotate & export", icon="📝"),
    st.Page("pages/models.py", title="Models", icon="📐"),
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
