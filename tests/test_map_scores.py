"""Scoring maps honestly: songs that trained a learnt map are not credited to it."""
import numpy as np

from emolab.map_scores import knn_emotion_score


def test_score_on_scores_only_the_chosen_songs_with_all_songs_as_neighbours():
    rng = np.random.default_rng(3)
    coords = rng.uniform(-1, 1, size=(60, 2))
    valence = coords[:, 0] + rng.normal(0, 0.05, 60)
    arousal = coords[:, 1] + rng.normal(0, 0.05, 60)
    chosen = np.zeros(60, dtype=bool)
    chosen[:20] = True
    ordered = knn_emotion_score(coords, valence, arousal, k=5, score_on=chosen)
    assert ordered["n_valence"] == 20 and ordered["r2_valence"] > 0.8
    # The same songs with shuffled places: no better than the mean (a constant baseline).
    shuffled = knn_emotion_score(rng.permutation(coords), valence, arousal, k=5, score_on=chosen)
    assert shuffled["r2_valence"] < 0.3
    too_few = knn_emotion_score(coords, valence, arousal, k=5, score_on=np.arange(60) < 5)
    assert too_few["r2_valence"] is None and too_few["n_valence"] == 5


def test_a_learnt_map_that_memorised_its_labels_is_not_credited():
    """Songs placed by their own labels score perfectly in-sample; scored only on songs the
    embedding never saw, a map that learnt nothing general scores about zero."""
    rng = np.random.default_rng(5)
    labels = rng.uniform(-1, 1, size=(80, 2))
    seen = np.arange(80) < 60
    coords = np.where(seen[:, None], labels, rng.uniform(-1, 1, size=(80, 2)))
    naive = knn_emotion_score(coords, labels[:, 0], labels[:, 1], k=5)
    honest = knn_emotion_score(coords, labels[:, 0], labels[:, 1], k=5, score_on=~seen)
    assert naive["r2_valence"] > honest["r2_valence"] + 0.3
    assert honest["r2_valence"] < 0.2 and honest["n_valence"] == 20
