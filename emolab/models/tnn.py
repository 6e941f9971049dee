"""Triplet neural network (TNN) adapted to regression.

A small dense network maps (standardised) song features to a compact embedding in
which songs with similar valence/arousal lie close together. Training uses triplets
(anchor, positive, negative): the positive's label is within ``positive_threshold`` of
the anchor's, the negative's at least ``negative_threshold`` away. Labels are expected
on [-1, 1]; the target may be one column (valence *or* arousal) or the joint
2-D (valence, arousal) point, in which case distances are Euclidean.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from emolab.exceptions import ModelError, ParameterError


@dataclass(frozen=True)
class TripletConfig:
    """Hyper-parameters of :class:`TripletEmbedder` (same names, same defaults)."""

    n_components: int | None = None
    hidden_units: int = 64
    positive_threshold: float = 0.1
    negative_threshold: float = 0.5
    triplets_per_anchor: int = 10
    margin: float = 1.0
    epochs: int = 20
    mining_rounds: int = 1
    semi_hard: bool = False
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    dropout: float = 0.1
    input_noise: float = 0.0
    random_state: int | None = 0


def default_n_components(n_features: int) -> int:
    """About 10 % of the input dimensions, at least 2."""
    return max(2, int(round(0.1 * n_features)))


def label_distances(y: np.ndarray) -> np.ndarray:
    """Pairwise distances between labels.

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (n, t)

    Returns
    -------
    np.ndarray, shape (n, n)
        ``|y_i - y_j|`` for one target, Euclidean distance for several.
    """
    y = np.asarray(y, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    diff = y[:, None, :] - y[None, :, :]
    return np.sqrt((diff ** 2).sum(axis=-1))


def _pairwise_sq(z: np.ndarray) -> np.ndarray:
    sq = (z ** 2).sum(axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0)


def mine_triplets(y, *, positive_threshold=0.1, negative_threshold=0.5, triplets_per_anchor=10,
                  embedding=None, semi_hard=False, margin=1.0, random_state=None) -> np.ndarray:
    """Choose (anchor, positive, negative) index triplets from regression labels.

    Every song is an anchor. Its positives are the other songs whose label lies within
    ``positive_threshold`` of its own; its negatives are the songs at least
    ``negative_threshold`` away. Anchors lacking either are skipped.

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (n, t)
        Labels (one target, or e.g. the joint valence/arousal point).
    positive_threshold, negative_threshold : float
        In label units; ``positive_threshold < negative_threshold``.
    triplets_per_anchor : int
        Triplets per anchor; positives and negatives are drawn without replacement when
        there are enough of them, with replacement otherwise.
    embedding : np.ndarray, shape (n, k), optional
        The current embedding; required for ``semi_hard``.
    semi_hard : bool
        Prefer negatives farther from the anchor than the positive but within
        ``margin`` of it (FaceNet's semi-hard rule); random negatives where none exist.
    margin : float
        The triplet loss margin (used by ``semi_hard``).
    random_state : int, np.random.Generator or None

    Returns
    -------
    np.ndarray, shape (m, 3), int
        Rows ``(anchor, positive, negative)``.
    """
    if positive_threshold >= negative_threshold:
        raise ParameterError("The positive threshold must be smaller than the negative threshold.")
    if triplets_per_anchor < 1:
        raise ParameterError("triplets_per_anchor must be at least 1.")
    if semi_hard and embedding is None:
        raise ParameterError("Semi-hard mining needs the current embedding.")
    rng = np.random.default_rng(random_state)
    dist = label_distances(y)
    n = dist.shape[0]
    is_positive = dist <= positive_threshold
    np.fill_diagonal(is_positive, False)
    is_negative = dist >= negative_threshold
    emb_sq = _pairwise_sq(np.asarray(embedding, dtype=np.float64)) if semi_hard else None
    rows = []
    for anchor in range(n):
        positives = np.flatnonzero(is_positive[anchor])
        negatives = np.flatnonzero(is_negative[anchor])
        if positives.size == 0 or negatives.size == 0:
            continue
        k = triplets_per_anchor
        pos = rng.choice(positives, size=k, replace=positives.size < k)
        neg = (_semi_hard_negatives(emb_sq[anchor], pos, negatives, k, margin, rng) if semi_hard
               else rng.choice(negatives, size=k, replace=negatives.size < k))
        rows.append(np.column_stack([np.full(k, anchor), pos, neg]))
    if not rows:
        raise ParameterError(
            "No triplets could be formed: no song has both a close neighbour and a distant one in "
            "its labels. The labels may be constant, or the thresholds too strict.")
    return np.concatenate(rows).astype(np.int64)


def _semi_hard_negatives(anchor_sq, positives, negatives, k, margin, rng):
    d_an = np.sqrt(anchor_sq[negatives])
    chosen = np.empty(k, dtype=np.int64)
    for i, p in enumerate(positives):
        d_ap = np.sqrt(anchor_sq[p])
        window = negatives[(d_an > d_ap) & (d_an < d_ap + margin)]
        chosen[i] = rng.choice(window if window.size else negatives)
    return chosen


@contextmanager
def _one_thread(torch):
    # The network is tiny: extra threads only add overhead, and on a busy machine a lot of it.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _check_labels(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ParameterError(f"Expected one label (or one row of labels) per song: {n} songs, "
                             f"labels of shape {y.shape}.")
    if not np.all(np.isfinite(y)):
        raise ParameterError("Some labels are missing (NaN) or infinite; remove those songs first.")
    if np.all(np.ptp(y.reshape(n, -1), axis=0) == 0):
        raise ParameterError("All labels are identical: there is nothing to learn from.")
    return y


def _check_features(X, n_features=None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ParameterError(f"Features must be a table (songs × features), got shape {X.shape}.")
    if n_features is not None and X.shape[1] != n_features:
        raise ModelError(f"The embedder was trained on {n_features} features but was given {X.shape[1]}.")
    if not np.all(np.isfinite(X)):
        raise ParameterError("Some feature values are missing (NaN) or infinite.")
    return X


class TripletEmbedder(TransformerMixin, BaseEstimator):
    """Learn an embedding in which songs with similar emotion labels lie close.

    Parameters
    ----------
    n_components : int or None
        Embedding size; ``None`` means about 10 % of the input dimensions.
    hidden_units : int
        Width of the hidden layer (0: a single linear layer).
    positive_threshold, negative_threshold : float
        Label distance within which a song is a positive, beyond which a negative.
    triplets_per_anchor : int
    margin : float
        Margin of the triplet loss, in embedding units.
    epochs : int
        Passes over the triplets in each mining round.
    mining_rounds : int
        Triplets are re-mined this many times (from the current embedding when
        ``semi_hard``).
    semi_hard : bool
        Semi-hard negative mining from the second round on.
    batch_size, learning_rate, weight_decay, dropout
        Adam optimisation settings.
    input_noise : float
        Standard deviation of Gaussian noise added to the (standardised) inputs while
        training; a regulariser that keeps the embedding smooth.
    random_state : int or None
        Seed for weights, mining and batching; a fixed seed gives identical results.

    Attributes
    ----------
    n_features_in_ : int
    n_components_ : int
    network_ : torch.nn.Module
    n_triplets_ : int
        Triplets used in the last round.
    loss_curve_ : list of float
        Mean loss per epoch.
    """

    def __init__(self, n_components=None, hidden_units=64, positive_threshold=0.1, negative_threshold=0.5,
                 triplets_per_anchor=10, margin=1.0, epochs=20, mining_rounds=1, semi_hard=False,
                 batch_size=128, learning_rate=1e-3, weight_decay=1e-4, dropout=0.1, input_noise=0.0,
                 random_state=0):
        self.n_components = n_components
        self.hidden_units = hidden_units
        self.positive_threshold = positive_threshold
        self.negative_threshold = negative_threshold
        self.triplets_per_anchor = triplets_per_anchor
        self.margin = margin
        self.epochs = epochs
        self.mining_rounds = mining_rounds
        self.semi_hard = semi_hard
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.input_noise = input_noise
        self.random_state = random_state

    @classmethod
    def from_config(cls, config: TripletConfig) -> "TripletEmbedder":
        return cls(**asdict(config))

    def to_config(self) -> TripletConfig:
        return TripletConfig(**self.get_params())

    def fit(self, X, y):
        """Train the embedding.

        Parameters
        ----------
        X : np.ndarray, shape (n, d)
            Standardised features.
        y : np.ndarray, shape (n,) or (n, t)
            Labels on [-1, 1]: one target, or several (e.g. valence and arousal) mined jointly.

        Returns
        -------
        self
        """
        import torch

        X = _check_features(X)
        y = _check_labels(y, X.shape[0])
        rng = np.random.default_rng(self.random_state)
        seed = int(rng.integers(2 ** 31))
        self.n_features_in_ = X.shape[1]
        self.n_components_ = int(self.n_components or default_n_components(X.shape[1]))
        with torch.random.fork_rng(devices=[]), _one_thread(torch):
            torch.manual_seed(seed)
            self.network_ = self._build_network(self.n_features_in_, self.n_components_)
            self.loss_curve_ = self._train(torch, X, y, rng)
        self.network_.eval()
        return self

    def _build_network(self, n_in: int, n_out: int):
        from torch import nn

        if not self.hidden_units:
            return nn.Sequential(nn.Linear(n_in, n_out))
        return nn.Sequential(nn.Linear(n_in, self.hidden_units), nn.ReLU(), nn.Dropout(self.dropout),
                             nn.Linear(self.hidden_units, n_out))

    def _train(self, torch, X, y, rng) -> list[float]:
        inputs = torch.from_numpy(X)
        loss_fn = torch.nn.TripletMarginLoss(margin=self.margin)
        optimiser = torch.optim.Adam(self.network_.parameters(), lr=self.learning_rate,
                                     weight_decay=self.weight_decay)
        losses = []
        for round_ in range(max(1, self.mining_rounds)):
            semi_hard = self.semi_hard and round_ > 0
            triplets = mine_triplets(
                y, positive_threshold=self.positive_threshold, negative_threshold=self.negative_threshold,
                triplets_per_anchor=self.triplets_per_anchor, semi_hard=semi_hard, margin=self.margin,
                embedding=self._embed(torch, inputs) if semi_hard else None, random_state=rng)
            self.n_triplets_ = len(triplets)
            self.network_.train()
            for _ in range(self.epochs):
                losses.append(self._epoch(torch, inputs, triplets, loss_fn, optimiser, rng))
        return losses

    def _epoch(self, torch, inputs, triplets, loss_fn, optimiser, rng) -> float:
        order = torch.from_numpy(triplets[rng.permutation(len(triplets))])
        total = 0.0
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            x = inputs[batch.reshape(-1)]
            if self.input_noise:
                x = x + self.input_noise * torch.randn_like(x)
            z = self.network_(x).reshape(len(batch), 3, -1)
            loss = loss_fn(z[:, 0], z[:, 1], z[:, 2])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        return total / len(order)

    def _embed(self, torch, inputs) -> np.ndarray:
        was_training = self.network_.training
        self.network_.eval()
        with torch.no_grad():
            z = self.network_(inputs).numpy().astype(np.float64)
        self.network_.train(was_training)
        return z

    def transform(self, X) -> np.ndarray:
        """Embed songs.

        Parameters
        ----------
        X : np.ndarray, shape (n, d)

        Returns
        -------
        np.ndarray, shape (n, n_components_)
        """
        import torch

        check_is_fitted(self, "network_")
        X = _check_features(X, self.n_features_in_)
        with _one_thread(torch):
            return self._embed(torch, torch.from_numpy(X))

    # Checkpoints: the network's weights as plain tensors, plus the config.
    def state(self) -> dict:
        """What a checkpoint needs: config, sizes and the network's state dict."""
        check_is_fitted(self, "network_")
        return {"config": asdict(self.to_config()), "n_features_in": self.n_features_in_,
                "n_components": self.n_components_, "weights": self.network_.state_dict()}

    @classmethod
    def from_state(cls, state: dict) -> "TripletEmbedder":
        """Rebuild a fitted embedder from :meth:`state`."""
        embedder = cls(**state["config"])
        embedder.n_features_in_ = int(state["n_features_in"])
        embedder.n_components_ = int(state["n_components"])
        embedder.network_ = embedder._build_network(embedder.n_features_in_, embedder.n_components_)
        try:
            embedder.network_.load_state_dict(state["weights"])
        except RuntimeError as exc:
            raise ModelError(f"The embedding network's saved weights do not match its configuration: {exc}") from exc
        embedder.network_.eval()
        embedder.loss_curve_ = []
        embedder.n_triplets_ = 0
        return embedder
