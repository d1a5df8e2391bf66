"""Mixing, noise and reverberation in numpy, every random draw from a seeded generator.

Rules:
- A mix is the sum of its pieces at their start samples (overlapped speech is summed, as two talkers in one
  room are), in float64; `to_pcm16` scales down only a mix whose peak would clip, and rounds half to even.
- SNR is speech power over noise power, where speech power is measured on the samples inside the ground-truth
  utterances (not over the pauses, which would make a talkative file look noisier), after reverberation.
- A synthetic room impulse response is a direct path at t = 0 plus a few early reflections and a tail of
  exponentially decaying Gaussian noise whose energy falls 60 dB in `rt60` seconds; `drr_db` sets the energy of
  the direct path over everything after it. Times of the ground truth are not moved (the direct path is at 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Audio = NDArray[np.float64]
PEAK = 0.9  # the largest sample a written mix may have, as a share of full scale
HUM_HZ = 50.0


def from_pcm16(samples: NDArray[np.int16]) -> Audio:
    return samples.astype(np.float64) / 32768.0


def to_pcm16(audio: Audio) -> NDArray[np.int16]:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    scaled = audio * (PEAK / peak) if peak > PEAK else audio
    return np.rint(scaled * 32767.0).astype(np.int16)


def gain(audio: Audio, db: float) -> Audio:
    return audio * float(10.0 ** (db / 20.0))


def mix(pieces: Sequence[Audio], starts: Sequence[int], length: int) -> Audio:
    out = np.zeros(length)
    for piece, start in zip(pieces, starts, strict=True):
        out[start : start + len(piece)] += piece
    return out


def active_mask(spans: Sequence[tuple[int, int]], length: int) -> NDArray[np.bool_]:
    """True on the samples inside any (start, end) span."""
    mask = np.zeros(length, dtype=bool)
    for start, end in spans:
        mask[start:end] = True
    return mask


def pink_noise(length: int, rng: np.random.Generator) -> Audio:
    """Gaussian noise shaped to a 1/f power spectrum (flat below 20 Hz at 16 kHz), unit power."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length)
    spectrum *= 1.0 / np.sqrt(np.maximum(freqs, 20.0 / 16_000))
    noise = np.fft.irfft(spectrum, n=length)
    return noise / _rms(noise)


def hum(length: int, rate: int, rng: np.random.Generator) -> Audio:
    """Mains hum: 50 Hz and its odd harmonics with seeded phases, unit power."""
    t = np.arange(length) / rate
    phases = rng.uniform(0, 2 * np.pi, 4)
    wave = sum(np.sin(2 * np.pi * HUM_HZ * k * t + p) / k for k, p in zip((1, 3, 5, 7), phases, strict=True))
    wave = np.asarray(wave, dtype=np.float64)
    return wave / _rms(wave)


def add_noise(speech: Audio, noise: Audio, active: NDArray[np.bool_], snr_db: float) -> Audio:
    """`speech` plus `noise` scaled so that speech power (on `active`) over noise power is `snr_db`."""
    speech_power = float(np.mean(speech[active] ** 2))
    noise_power = float(np.mean(noise**2))
    scale = float(np.sqrt(speech_power / (noise_power * float(10.0 ** (snr_db / 10.0)))))
    return speech + noise * scale


def measured_snr(speech: Audio, noisy: Audio, active: NDArray[np.bool_]) -> float:
    noise = noisy - speech
    return float(10.0 * np.log10(np.mean(speech[active] ** 2) / np.mean(noise**2)))


def _rms(audio: Audio) -> float:
    return float(np.sqrt(np.mean(audio**2)))


def impulse_response(rt60: float, drr_db: float, rate: int, rng: np.random.Generator) -> Audio:
    length = round(1.2 * rt60 * rate)
    t = np.arange(length) / rate
    envelope = np.exp(-3.0 * np.log(10.0) * t / rt60)  # -60 dB (amplitude and energy alike) at rt60
    tail: Audio = rng.standard_normal(length) * envelope
    onset = round(0.003 * rate)  # the first reflection arrives 3 ms after the direct path
    tail[:onset] = 0.0
    for delay, level in zip(rng.uniform(0.003, 0.02, 4), rng.uniform(0.3, 0.6, 4), strict=True):
        tail[round(delay * rate)] += level * rng.choice((-1.0, 1.0))
    tail *= float(np.sqrt(float(10.0 ** (-drr_db / 10.0)) / np.sum(tail**2)))
    tail[0] = 1.0
    return tail


def reverberate(audio: Audio, response: Audio) -> Audio:
    """`audio` convolved with `response`, cut to the length of `audio` (FFT convolution)."""
    size = len(audio) + len(response) - 1
    n = 1 << (size - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(audio, n) * np.fft.rfft(response, n), n)
    return wet[: len(audio)]


def decay_time(response: Audio, rate: int) -> float:
    """RT60 measured back from an impulse response: Schroeder's backward integral, fitted from -5 to -25 dB."""
    energy = np.cumsum(response[::-1] ** 2)[::-1]
    curve = 10.0 * np.log10(energy / energy[0])
    t = np.arange(len(response)) / rate
    fit = (curve <= -5.0) & (curve >= -25.0)
    slope = np.polyfit(t[fit], curve[fit], 1)[0]
    return float(-60.0 / slope)
