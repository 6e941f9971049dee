"""Models: what predicts emotion here, how well it did, and retraining on your labels."""
from pathlib import Path

import streamlit as st

from emolab import retrain, ui
from emolab.config import MODELS_DIR, PROJECT_ROOT
from emolab.exceptions import EmolabError

st.title("Models")
index = ui.get_index()
RESULTS_DIR = PROJECT_ROOT / "docs" / "results"
HOW = {
    "static": "`python -m emolab train-static` (see data/models/README.md for the exact command "
              "and data; fits the SVR + ridge + boosted-trees ensemble on DEAM's features)",
    "dynamic": "`python -m emolab train-dynamic` (the static model over sliding windows; needs "
               "the static model)",
}
WHAT = {
    "static": (
        "Predicts one valence and one arousal value per recording. It reads openSMILE-style "
        "features of the whole recording (loudness, spectrum, MFCCs … — the DEAM columns "
        "EmoLab computes from any audio), and averages three regressors: a support-vector "
        "regression (SVR), a ridge regression and gradient-boosted trees. Five such models, "
        "each trained on 4/5 of DEAM's 1,442 songs (other artists held out), are averaged. "
        "The “±” shown with each prediction is the half-width of a calibrated 68 % interval: "
        "on songs by artists the model never saw, about two predictions in three fall that "
        "close to the human rating. A triplet network (TNN) trained alongside only draws the "
        "maps on *Explore spaces*; it plays no part in the prediction."),
    "dynamic": (
        "Predicts valence and arousal every 0.5 s by running the static model over a 10 s "
        "window that slides along the recording, then smoothing the curve over 5 s. It has no "
        "weights of its own: every point is the static model's answer for the music around "
        "it, so it can say no more, and be no more accurate, than the static model."),
}


def show_scores(scores: dict) -> None:
    """The held-out R² (and RMSE) as metrics: large, and never cut off."""
    st.markdown("**Held-out scores** (songs the scored model did not see)")
    m1, m2, m3, m4 = st.columns(4)
    for column, name, label in ((m1, "r2_valence", "R² valence"), (m2, "r2_arousal", "R² arousal"),
                                (m3, "rmse_valence", "RMSE valence"),
                                (m4, "rmse_arousal", "RMSE arousal")):
        if scores.get(name) is not None:
            column.metric(label, f"{scores[name]:.2f}")
    if scores.get("protocol"):
        st.caption(f"Protocol: {scores['protocol']}. R² = 1 is perfect; 0 is no better than "
                   "always predicting the average song. RMSE is on the −1 … 1 scale.")


def show_card(kind: str, model) -> None:
    card = ui.model_card(model)
    st.markdown(f"version `{card['version']}`")
    st.markdown(WHAT[kind])
    scores = card.get("cv_scores")
    if isinstance(scores, dict) and scores:
        show_scores(scores)
    for name, title in (("trained_on", "Trained on"), ("info", "Training")):
        if card.get(name):
            with st.expander(title):
                st.json(card[name], expanded=1)
    section = ui.model_card_section(kind)
    if section:
        with st.expander("The full model card (data, protocol, what was tried, how to rebuild)"):
            st.markdown(section)
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
           "Retraining fits the static model (SVR + ridge + boosted trees) anew on the songs "
           "that have DEAM features and human labels (averaged over annotators). The new model "
           f"is saved in its own dated folder under `{retrain.user_models_dir()}`; the shipped "
           "model is never replaced. It takes a few minutes.")
retrained = retrain.retrained_models()[:10]
if retrained:
    SHIPPED = "the shipped model"
    in_use = retrain.static_model_in_use()
    choices = [SHIPPED] + [folder.name for folder in retrained]

    def _choose() -> None:
        name = st.session_state["static_model_in_use"]
        try:
            retrain.use_static_model(None if name == SHIPPED else retrain.user_models_dir() / name)
        except EmolabError as exc:
            st.session_state["model_choice_error"] = str(exc)

    st.selectbox("Static model for new analyses (uploads and folder imports)", choices,
                 index=choices.index(in_use) if in_use in choices else 0,
                 key="static_model_in_use", on_change=_choose,
                 help="Songs already in the library keep their predictions (each records the model "
                      "version that made it). A retrained model predicts without the 4Q valence "
                      "correction, which belongs to the shipped model.")
    if "model_choice_error" in st.session_state:
        st.error(st.session_state.pop("model_choice_error"))
    st.caption(f"In use: **{in_use or SHIPPED}**"
               + ("" if in_use else f" ({models.static.version})" if models.static is not None else ""))
if st.button("Retrain the static model", type="primary",
             disabled=stats["with_human_static"] < retrain.MIN_SONGS,
             help=f"Needs human labels for at least {retrain.MIN_SONGS} songs that have DEAM "
                  "features."):
    with st.status("Retraining the static model…", expanded=True) as status:
        try:
            model, folder = retrain.retrain_static(index, progress=st.write)
        except EmolabError as exc:
            status.update(label="Retraining failed", state="error")
            ui.show_error(exc)
        else:
            status.update(label=f"Retrained: {model.version}", state="complete")
            st.success(f"Saved to `{folder}`. Use it with `python -m emolab predict-features "
                       f"FEATURES.csv --model {folder} --out predictions.csv`.")
