"""Models: what predicts emotion here, how well it did, and retraining on your labels."""
from pathlib import Path

import pandas as pd
import streamlit as st

from emolab import ui
from emolab.config import MODELS_DIR, PROJECT_ROOT
from emolab.exceptions import EmolabError

st.title("Models")
index = ui.get_index()
RESULTS_DIR = PROJECT_ROOT / "docs" / "results"
HOW = {
    "static": "`python -m emolab train-static --features DEAM_FEATURES_WITH_LABELS.csv` (fits the TNN + SVR model on DEAM's features)",
    "dynamic": "`python -m emolab train-dynamic` (the static model over sliding windows; needs the static model)",
}


def show_card(kind: str, model) -> None:
    """The model's own card file if it has one, else the facts it carries."""
    path = MODELS_DIR / kind / "card.md"
    card = ui.model_card(model)
    st.caption(f"version `{card['version']}`")
    if path.is_file():
        st.markdown(path.read_text(encoding="utf-8"))
    scores = card.get("cv_scores")
    if scores:
        st.markdown("**Held-out scores**")
        st.dataframe(pd.DataFrame([scores]), hide_index=True)
    for name, title in (("trained_on", "Trained on"), ("info", "Training")):
        if card.get(name):
            st.markdown(f"**{title}**")
            st.json(card[name], expanded=1)
    if card.get("config"):
        with st.expander("Configuration"):
            st.json(card["config"])


models = ui.get_models()
cards = st.columns(2)
for (kind, title), column in zip([("static", "Static model (whole song)"),
                                  ("dynamic", "Dynamic model (every 0.5 s)")], cards):
    with column, st.container(border=True):
        st.subheader(title)
        model = getattr(models, kind)
        if model is None:
            reason = getattr(models, f"{kind}_error") or ""
            if "Train it with" in reason:  # the loader's own sentence already names the path
                reason = reason.split("Train it with")[0].strip()
            ui.missing(f"No {kind} model yet. {reason}".strip(), HOW[kind])
            continue
        show_card(kind, model)
        if kind == "static" and models.valence is not None:  # 4Q valence second stage (emolab.models.valence)
            st.markdown("**Valence second stage (4Q: commercial music)** — applied on top of this model")
            st.markdown((MODELS_DIR / "valence" / "card.md").read_text(encoding="utf-8"))

st.header("Results")
tables = sorted(RESULTS_DIR.glob("*.md")) if RESULTS_DIR.is_dir() else []
if not tables:
    ui.missing("No experiment results recorded yet.",
               "`python -m emolab experiment table1` and `python -m emolab experiment dynamic` "
               "write their tables to docs/results/.")
for path in tables:
    with st.expander(path.stem.replace("_", " ").replace("-", " ").capitalize(),
                     expanded=path.stem.lower().startswith("table1")):
        st.markdown(Path(path).read_text(encoding="utf-8"))

st.header("Retrain on this library's labels")
stats = ui.library_stats()
st.caption(f"The index holds human static labels for {stats['with_human_static']:,} songs. "
           "Retraining fits the static model (TNN embedding + SVR head) anew on the songs that "
           "have DEAM features and human labels (averaged over annotators) and replaces the "
           "model in data/models/static. It takes a few minutes.")
if ui.optional("emolab.models.static") is None:
    ui.missing("Retraining needs the static model code, which is not installed yet.", HOW["static"])
elif st.button("Retrain the static model", type="primary", icon=":material/model_training:",
               disabled=stats["with_human_static"] < 10,
               help="Needs human labels for at least 10 songs that have DEAM features."):
    with st.status("Retraining the static model…", expanded=True) as status:
        try:
            model = ui.retrain_static(index, progress=st.write)
        except EmolabError as exc:
            status.update(label="Retraining failed", state="error")
            ui.show_error(exc)
        else:
            ui.get_models.clear()
            status.update(label=f"Retrained: {model.version}", state="complete")
