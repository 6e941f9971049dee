"""Query: a read-only SQL console over the index."""
import streamlit as st

from emolab import ui
from emolab.exceptions import EmolabError
from emolab.index import query_guard

st.title("Query")
st.caption("Read-only SQL (DuckDB dialect) over the index's own tables. The console cannot "
           "change the index or read files; queries stop after 10 s and return at most "
           "10,000 rows. Valence and arousal are on −1 … 1.")
index = ui.get_index()



def use_example():
    st.session_state["query_sql"] = query_guard.EXAMPLE_QUERIES[st.session_state["query_example"]]


st.selectbox("Example queries", list(query_guard.EXAMPLE_QUERIES), key="query_example", on_change=use_example,
             index=None, placeholder="Pick an example to start from…")
st.session_state.setdefault("query_sql", query_guard.EXAMPLE_QUERIES["Songs per origin"])
sql = st.text_area("SQL", key="query_sql", height=170)
if st.button("Run query", type="primary"):
    try:
        st.session_state["query_result"] = (sql, query_guard.run(index.con, sql, max_rows=10_000,
                                                                  timeout=10.0))
        st.session_state.pop("query_refusal", None)
    except EmolabError as exc:
        st.session_state["query_refusal"] = str(exc)
        st.session_state.pop("query_result", None)

if st.session_state.get("query_refusal"):
    st.error(st.session_state["query_refusal"])
elif st.session_state.get("query_result"):
    ran, result = st.session_state["query_result"]
    note = " (cut at 10,000 rows)" if result.attrs.get("truncated") else ""
    st.caption(f"{len(result):,} rows{note}")
    st.dataframe(result, hide_index=True)
    st.download_button("Download CSV", result.to_csv(index=False).encode("utf-8"),
                       file_name="emolab-query.csv", mime="text/csv")

with st.expander("Tables of the index"):
    st.markdown(
        "- `songs`: title, artist, origin, dataset, duration, has_audio …\n"
        "- `annotations`: human labels (kind static/segment, t0, t1, valence, arousal, "
        "annotator, tags, note, revision)\n"
        "- `annotation_history`: every change with who and when\n"
        "- `static_predictions`: model_version, valence, arousal and their std\n"
        "- `curves`: source (human/predicted), t0, hop, valence[], arousal[]\n"
        "- `features`, `frame_features`, `embeddings`, `projections`")
