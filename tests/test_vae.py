"""The log-mel VAE / AE: training lowers the loss, checkpoints round-trip and resume."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from emolab.exceptions import ModelError, ParameterError
from emolab.models.vae import PatchVAE, VAEConfig, count_parameters, resize_patches

torch.set_num_threads(1)


def tiny_corpus(n_tracks=4, n=48, shape=(64, 43), seed=0):
    """Patches with structure a small autoencoder can learn: a few spectral shapes, noisy."""
    rng = np.random.default_rng(seed)
    mels = np.arange(shape[0])[:, None]
    templates = [np.exp(-((mels - c) ** 2) / 40.0) * np.ones(shape) for c in (8, 24, 40, 56)]
    tracks = []
    for _ in range(n_tracks):
        picks = rng.integers(0, len(templates), size=n)
        gains = rng.uniform(0.5, 2.0, size=(n, 1, 1))
        x = np.stack([templates[p] for p in picks]) * gains + 0.05 * rng.normal(size=(n, *shape))
        tracks.append((10 * x - 40).astype(np.float32))  # dB-like values
    return tracks


def small_config(**kwargs):
    base = dict(epochs=4, batch_size=32, channels=(8, 16, 16), learning_rate=3e-3)
    return VAEConfig(**{**base, **kwargs})


def test_vae_loss_decreases_on_a_tiny_corpus():
    model = PatchVAE(small_config()).fit(tiny_corpus())
    losses = [h["train_loss"] for h in model.history_]
    assert losses[-1] < 0.7 * losses[0]
    assert np.isfinite(model.history_[-1]["val_reconstruction"])
    assert model.history_[-1]["val_kl"] > 0  # the variational variant reports a KL


def test_latents_have_the_configured_size_and_default_model_is_small():
    model = PatchVAE(small_config(epochs=1, latent_dim=16)).fit(tiny_corpus(n_tracks=2, n=8))
    assert model.transform(tiny_corpus(n_tracks=1, n=5)[0]).shape == (5, 16)
    default = PatchVAE(VAEConfig(epochs=1)).fit(tiny_corpus(n_tracks=2, n=4))
    assert 50_000 < count_parameters(default) < 1_000_000


def test_plain_autoencoder_has_no_kl_and_is_deterministic():
    model = PatchVAE(small_config(variational=False, beta=0.0, epochs=2)).fit(tiny_corpus(n_tracks=3, n=16))
    x = tiny_corpus(n_tracks=1, n=6, seed=1)[0]
    assert model.evaluate(x)[1] == 0.0
    np.testing.assert_array_equal(model.transform(x), model.transform(x))


def test_checkpoint_round_trip_gives_identical_latents(tmp_path):
    model = PatchVAE(small_config(epochs=2)).fit(tiny_corpus(n_tracks=2, n=16))
    model.save(tmp_path / "vae.pt")
    again = PatchVAE.load(tmp_path / "vae.pt")
    x = tiny_corpus(n_tracks=1, n=7, seed=2)[0]
    np.testing.assert_array_equal(model.transform(x), again.transform(x))
    assert again.config_ == model.config_


def test_training_resumes_from_the_last_epoch(tmp_path):
    corpus = tiny_corpus(n_tracks=3, n=16)
    PatchVAE(small_config(epochs=2), checkpoint_dir=tmp_path).fit(corpus)
    assert (tmp_path / "last.pt").is_file()
    resumed = PatchVAE(small_config(epochs=3), checkpoint_dir=tmp_path).fit(corpus)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3]
    finished = PatchVAE(small_config(epochs=3), checkpoint_dir=tmp_path).fit(corpus)
    assert len(finished.history_) == 3  # nothing left to do


def test_patches_of_another_width_are_resized():
    x = np.random.default_rng(0).normal(size=(3, 64, 43)).astype(np.float32)
    assert resize_patches(x, (64, 32)).shape == (3, 64, 32)
    with pytest.raises(ParameterError):
        resize_patches(x[0], (64, 32))


def test_missing_checkpoint_and_unfitted_model_say_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="pretrain-vae"):
        PatchVAE.load(tmp_path / "nothing.pt")
    with pytest.raises(ModelError, match="not trained"):
        PatchVAE().transform(np.zeros((1, 64, 32)))
    with pytest.raises(ParameterError):
        PatchVAE(small_config()).fit([])
