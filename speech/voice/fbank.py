"""80-bin Kaldi log-fbank with per-utterance mean normalisation: the CAM++ front-end, in numpy.

A port of `torchaudio.compliance.kaldi.fbank` defaults as 3D-Speaker calls it (`num_mel_bins=80,
sample_frequency=16000, dither=0`): 25 ms frames every 10 ms (snip edges), DC removal, pre-emphasis 0.97,
povey window, 512-point power spectrum, mel banks from 20 Hz to Nyquist, natural log floored at float32 eps,
then the mean over frames subtracted. Input: mono float samples in [-1, 1] at 16 kHz.
"""

from __future__ import annotations

from functools import cache

import numpy as np

RATE = 16_000
FRAME, SHIFT, FFT, BINS = 400, 160, 512, 80
EPS = float(np.finfo(np.float32).eps)


def _mel(freq: np.ndarray | float) -> np.ndarray:
    return np.asarray(1127.0 * np.log(1.0 + np.asarray(freq) / 700.0))


@cache
def mel_banks() -> np.ndarray:
    """(BINS, FFT/2 + 1) triangular filters, Kaldi style; the Nyquist column is zero as in torchaudio."""
    low, high = _mel(20.0), _mel(RATE / 2)
    delta = (high - low) / (BINS + 1)
    freqs = _mel(np.arange(FFT // 2) * RATE / FFT)
    left = low + np.arange(BINS)[:, None] * delta
    center, right = left + delta, left + 2 * delta
    up, down = (freqs - left) / (center - left), (right - freqs) / (right - center)
    banks = np.maximum(0.0, np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1))).astype(np.float32)


@cache
def povey_window() -> np.ndarray:
    n = np.arange(FRAME)
    return np.asarray((0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME - 1))) ** 0.85, dtype=np.float32)


def fbank(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) float32 features, mean-normalised; an empty array for less than one frame of audio."""
    features = fbank_raw(samples)
    if len(features) == 0:
        return features
    return np.asarray(features - features.mean(axis=0, keepdims=True), dtype=np.float32)


BLOCK = 2000  # frames computed at once: 20 s of audio, a few MB of float64 work arrays however long the input


def fbank_raw(samples: np.ndarray) -> np.ndarray:
    """(frames, 80) float32 log mel energies before mean normalisation (frames are independent: computed in
    blocks of BLOCK, so memory stays flat for a four-minute piece)."""
    samples = np.asarray(samples, dtype=np.float32)
    count = 1 + (len(samples) - FRAME) // SHIFT if len(samples) >= FRAME else 0
    if count <= 0:
        return np.zeros((0, BINS), dtype=np.float32)
    out = np.empty((count, BINS), dtype=np.float32)
    for first in range(0, count, BLOCK):
        out[first : first + BLOCK] = _block(samples, first, min(count, first + BLOCK))
    return out


def _block(samples: np.ndarray, first: int, last: int) -> np.ndarray:
    index = np.arange(FRAME)[None, :] + SHIFT * np.arange(first, last)[:, None]
    frames = samples[index].astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    previous = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = (frames - 0.97 * previous) * povey_window()
    power = np.abs(np.fft.rfft(frames, n=FFT)) ** 2
    energies = power.astype(np.float32) @ mel_banks().T
    return np.asarray(np.log(np.maximum(energies, EPS)), dtype=np.float32)
