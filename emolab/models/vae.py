"""Convolutional (variational) autoencoders over log-mel patches.

One patch covers one second of audio on the 0.5 s grid (see
:func:`emolab.features.spectral.logmel_patches`); the encoder maps it to a 32-d latent
vector, which the sequence heads of :mod:`emolab.models.sequence` read every 0.5 s.
``beta > 0`` gives a β-VAE (the seed's front end); ``variational=False`` gives the plain
autoencoder of AE-LSTM. Pretraining needs no labels: any folder of music will do
(``scripts/get_pretraining_audio.sh`` fetches free soundtracks).

Patches of any width are resized to ``config.patch_shape`` and standardised with the
mean and standard deviation of the training corpus, both kept in the checkpoint.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from emolab.exceptions import ModelError, ParameterError


@dataclass(frozen=True)
class VAEConfig:
    """Hyper-parameters of :class:`PatchVAE` and of its training."""

    patch_shape: tuple[int, int] = (64, 32)  # (mels, time bins) the network sees
    latent_dim: int = 32
    channels: tuple[int, ...] = (16, 32, 64)
    variational: bool = True
    beta: float = 1.0
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1  # share of *tracks* held out
    random_state: int | None = 0


def _torch():
    import torch

    return torch


def build_network(config: VAEConfig):
    """The torch module of a :class:`VAEConfig` (encoder, decoder, latent heads)."""
    torch = _torch()
    nn = torch.nn

    class Network(nn.Module):
        def __init__(self):
            super().__init__()
            n_mels, n_bins = config.patch_shape
            layers, in_ch = [], 1
            for ch in config.channels:
                layers += [nn.Conv2d(in_ch, ch, 3, stride=2, padding=1), nn.BatchNorm2d(ch), nn.ELU()]
                in_ch = ch
            self.encoder = nn.Sequential(*layers)
            down = 2 ** len(config.channels)
            self.grid = (math.ceil(n_mels / down), math.ceil(n_bins / down))
            flat = in_ch * self.grid[0] * self.grid[1]
            self.to_latent = nn.Linear(flat, config.latent_dim * (2 if config.variational else 1))
            self.from_latent = nn.Linear(config.latent_dim, flat)
            layers = []
            chans = list(config.channels[::-1]) + [1]
            for a, b in zip(chans[:-1], chans[1:]):
                layers.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1))
                if b != 1:
                    layers += [nn.BatchNorm2d(b), nn.ELU()]
            self.decoder = nn.Sequential(*layers)

        def encode(self, x):
            h = self.to_latent(self.encoder(x[:, None]).flatten(1))
            if config.variational:
                mu, logvar = h.chunk(2, dim=1)
                return mu, logvar.clamp(-10, 10)
            return h, None

        def decode(self, z):
            h = self.from_latent(z).view(-1, config.channels[-1], *self.grid)
            out = self.decoder(h)[:, 0]
            return out[:, : config.patch_shape[0], : config.patch_shape[1]]

        def forward(self, x):
            mu, logvar = self.encode(x)
            z = mu
            if logvar is not None and self.training:
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return self.decode(z), mu, logvar

    return Network()


def vae_loss(recon, x, mu, logvar, *, beta: float):
    """Mean squared reconstruction error per patch value and KL per patch.

    Returns
    -------
    total, reconstruction, kl : 0-d tensors
        ``total = reconstruction + beta * kl / n_values`` so that β is on the scale of the
        usual per-patch ELBO while the printed reconstruction loss stays readable.
    """
    torch = _torch()
    recon_loss = torch.mean((recon - x) ** 2)
    if logvar is None:
        return recon_loss, recon_loss, torch.zeros(())
    kl = torch.mean(-0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1))
    n_values = x.shape[1] * x.shape[2]
    return recon_loss + beta * kl / n_values, recon_loss, kl


class PatchVAE:
    """A β-VAE (or plain AE) over log-mel patches, scikit-learn style.

    Parameters
    ----------
    config : VAEConfig
    progress : bool
        Show a tqdm progress bar while training.
    checkpoint_dir : str or Path, optional
        Where ``fit`` saves ``last.pt`` after every epoch and resumes from it.

    Attributes
    ----------
    network_ : torch.nn.Module
    mean_, std_ : float
        Standardisation of the log-mel values (training corpus).
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_reconstruction``, ``val_kl``.
    """

    def __init__(self, config: VAEConfig | None = None, *, progress: bool = False,
                 checkpoint_dir=None):
        self.config = config
        self.progress = progress
        self.checkpoint_dir = checkpoint_dir

    @property
    def config_(self) -> VAEConfig:
        return self.config or VAEConfig()

    def fit(self, patches_by_track):
        """Train on unlabelled patches.

        Parameters
        ----------
        patches_by_track : list of np.ndarray, each shape (n_i, n_mels, n_bins)
            One array per track; whole tracks are held out for validation.

        Returns
        -------
        self
        """
        torch = _torch()
        cfg = self.config_
        tracks = [self._resize(np.asarray(p, dtype=np.float32)) for p in patches_by_track if len(p)]
        if not tracks:
            raise ParameterError("No audio patches to train the autoencoder on.")
        rng = np.random.default_rng(cfg.random_state)
        order = rng.permutation(len(tracks))
        n_val = max(1, int(round(cfg.validation_fraction * len(tracks)))) if len(tracks) > 1 else 0
        train = np.concatenate([tracks[i] for i in order[n_val:]])
        val = np.concatenate([tracks[i] for i in order[:n_val]]) if n_val else train[:0]
        start_epoch = self._restore_or_init(train)
        train_t = torch.from_numpy(self._standardise(train))
        val_t = torch.from_numpy(self._standardise(val))
        if cfg.random_state is not None:
            torch.manual_seed(cfg.random_state + start_epoch)
        bar = _progress(range(start_epoch, cfg.epochs), self.progress, "pretraining")
        for epoch in bar:
            train_loss = self._train_epoch(train_t)
            val_rec, val_kl = self.evaluate_standardised(val_t) if len(val_t) else (float("nan"),) * 2
            self.history_.append({"epoch": epoch + 1, "train_loss": train_loss,
                                  "val_reconstruction": val_rec, "val_kl": val_kl})
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{train_loss:.3f}", val_rec=f"{val_rec:.3f}", val_kl=f"{val_kl:.1f}")
            if self.checkpoint_dir is not None:
                self.save(Path(self.checkpoint_dir) / "last.pt")
        self.network_.eval()
        return self

    def transform(self, patches) -> np.ndarray:
        """Latent means of patches.

        Parameters
        ----------
        patches : np.ndarray, shape (n, n_mels, n_bins)

        Returns
        -------
        np.ndarray, shape (n, latent_dim), float32
        """
        torch = _torch()
        self._check_fitted()
        x = self._standardise(self._resize(np.asarray(patches, dtype=np.float32)))
        self.network_.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(x), 1024):
                mu, _ = self.network_.encode(torch.from_numpy(x[start:start + 1024]))
                out.append(mu.numpy())
        return np.concatenate(out) if out else np.zeros((0, self.config_.latent_dim), np.float32)

    def evaluate(self, patches) -> tuple[float, float]:
        """Reconstruction MSE (standardised units) and mean KL per patch on ``patches``."""
        torch = _torch()
        self._check_fitted()
        x = self._standardise(self._resize(np.asarray(patches, dtype=np.float32)))
        return self.evaluate_standardised(torch.from_numpy(x))

    def evaluate_standardised(self, x) -> tuple[float, float]:
        torch = _torch()
        self.network_.eval()
        rec_sum, kl_sum = 0.0, 0.0
        with torch.no_grad():
            for start in range(0, len(x), 1024):
                batch = x[start:start + 1024]
                recon, mu, logvar = self.network_(batch)
                _, rec, kl = vae_loss(recon, batch, mu, logvar, beta=self.config_.beta)
                rec_sum += float(rec) * len(batch)
                kl_sum += float(kl) * len(batch)
        return rec_sum / max(len(x), 1), kl_sum / max(len(x), 1)

    # -- checkpoints -------------------------------------------------------------------
    def state(self) -> dict:
        """Everything needed to rebuild the model (config, weights, scaling, history)."""
        self._check_fitted()
        return {"kind": "PatchVAE", "config": asdict(self.config_),
                "network": self.network_.state_dict(), "optimizer": self.optimizer_.state_dict(),
                "mean": self.mean_, "std": self.std_, "history": list(self.history_)}

    def save(self, path) -> Path:
        """Write a checkpoint (atomically, so an interrupted save never corrupts it)."""
        torch = _torch()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(self.state(), tmp)
        tmp.replace(path)
        return path

    @classmethod
    def from_state(cls, state: dict, **kwargs) -> "PatchVAE":
        cfg = dict(state["config"])
        cfg["patch_shape"] = tuple(cfg["patch_shape"])
        cfg["channels"] = tuple(cfg["channels"])
        model = cls(VAEConfig(**cfg), **kwargs)
        model._init_network()
        model.network_.load_state_dict(state["network"])
        model._optimizer_state = state.get("optimizer")  # applied if training resumes
        model.mean_, model.std_ = float(state["mean"]), float(state["std"])
        model.history_ = list(state.get("history", []))
        model.network_.eval()
        return model

    @classmethod
    def load(cls, path, **kwargs) -> "PatchVAE":
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"No autoencoder checkpoint at '{path}'. "
                             "Pretrain one with: python -m emolab pretrain-vae --audio FOLDER")
        return cls.from_state(_torch().load(path, map_location="cpu", weights_only=False), **kwargs)

    # -- internals -----------------------------------------------------------------------
    def _init_network(self):
        torch = _torch()
        if self.config_.random_state is not None:
            torch.manual_seed(self.config_.random_state)
        self.network_ = build_network(self.config_)
        self._optimizer, self._optimizer_state = None, None
        self.history_ = []

    @property
    def optimizer_(self):
        """The Adam optimiser, made on first use: inference never needs it, and building one
        imports ``torch._dynamo`` (seconds), which would slow every model load."""
        if getattr(self, "_optimizer", None) is None:
            torch = _torch()
            self._optimizer = torch.optim.Adam(self.network_.parameters(), lr=self.config_.learning_rate)
            if getattr(self, "_optimizer_state", None) is not None:
                self._optimizer.load_state_dict(self._optimizer_state)
                self._optimizer_state = None
        return self._optimizer

    @optimizer_.setter
    def optimizer_(self, value):
        self._optimizer = value

    def _restore_or_init(self, train: np.ndarray) -> int:
        last = Path(self.checkpoint_dir) / "last.pt" if self.checkpoint_dir is not None else None
        if last is not None and last.is_file():
            restored = PatchVAE.load(last)
            if _same_but_epochs(restored.config_, self.config_):
                self.network_, self.optimizer_ = restored.network_, restored.optimizer_
                self.mean_, self.std_, self.history_ = restored.mean_, restored.std_, restored.history_
                return len(self.history_)
        self._init_network()
        self.mean_ = float(train.mean())
        self.std_ = float(train.std()) or 1.0
        return 0

    def _train_epoch(self, train_t) -> float:
        torch = _torch()
        cfg = self.config_
        self.network_.train()
        perm = torch.randperm(len(train_t))
        total, n = 0.0, 0
        for start in range(0, len(train_t), cfg.batch_size):
            batch = train_t[perm[start:start + cfg.batch_size]]
            if len(batch) < 2:  # BatchNorm needs two examples
                continue
            recon, mu, logvar = self.network_(batch)
            loss, _, _ = vae_loss(recon, batch, mu, logvar, beta=cfg.beta)
            self.optimizer_.zero_grad()
            loss.backward()
            self.optimizer_.step()
            total += float(loss.detach()) * len(batch)
            n += len(batch)
        return total / max(n, 1)

    def _resize(self, patches: np.ndarray) -> np.ndarray:
        return resize_patches(patches, self.config_.patch_shape)

    def _standardise(self, patches: np.ndarray) -> np.ndarray:
        return ((patches - self.mean_) / self.std_).astype(np.float32)

    def _check_fitted(self):
        if not hasattr(self, "network_"):
            raise ModelError("This autoencoder is not trained yet; call fit() or load a checkpoint.")


def resize_patches(patches: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Linearly resample patches of shape (n, a, b) to (n, *shape); a no-op when equal."""
    patches = np.asarray(patches, dtype=np.float32)
    if patches.ndim != 3:
        raise ParameterError(f"Expected patches of shape (n, mels, bins), got {patches.shape}.")
    if patches.shape[1:] == tuple(shape) or len(patches) == 0:
        return patches.reshape(len(patches), *shape) if len(patches) == 0 else patches
    torch = _torch()
    with torch.no_grad():
        out = torch.nn.functional.interpolate(torch.from_numpy(patches)[:, None], size=tuple(shape),
                                              mode="bilinear", align_corners=False)
    return out[:, 0].numpy()


def _same_but_epochs(a: VAEConfig, b: VAEConfig) -> bool:
    return asdict(a) | {"epochs": 0} == asdict(b) | {"epochs": 0}


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit="epoch")


def count_parameters(model: PatchVAE) -> int:
    """Trainable parameters of a fitted model's network."""
    return sum(p.numel() for p in model.network_.parameters() if p.requires_grad)
