"""Emotion models: triplet embedding + SVR (static), VAE/AE + LSTM (dynamic)."""
