"""Reference window tracks for `coughkit monitor` (docs/pipeline.md section 9).

Writes recordings at rates where hop * rate is and is not an integer (44.1 kHz stereo,
11.025 kHz mono, 48 kHz stereo, 22.05 kHz mono ending on a whole window, a 16 kHz clip
shorter than one window), a checkpoint of the fixture model (export_models.build_model),
and for each recording and window length the reference's bag probability of every window:
the window's native-rate samples cut out of the exactly decoded file and run through the
reference pipeline (torchaudio conditioning, segments, images) and the PyTorch model, as if
that stretch had been uploaded as a clip of its own.

    /usr/bin/python3 tools/reference/monitor_reference.py --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from fractions import Fraction

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attnmil import images_to_input  # noqa: E402
from export_models import build_model  # noqa: E402
from fixture_files import sources_digest, write_manifest  # noqa: E402
import reference_pipeline as ref  # noqa: E402

# (name, rate, channels, seconds, window lengths)
RECORDINGS = [
    ("r44k_stereo", 44100, 2, 7.3, [2.0]),
    ("r11k_mono", 11025, 1, 6.1, [2.0]),
    ("r48k_stereo_long", 48000, 2, 13.7, [2.0, 10.0]),
    ("r22k_mono_exact", 22050, 1, 4.0, [2.0]),
    ("r16k_short", 16000, 1, 1.2, [2.0]),
]
HOP = Fraction(1, 2)


def signal(rate: int, channels: int, seconds: float, seed: int) -> np.ndarray:
    """Noise floor with loud broadband bursts (cough-like onsets), different per channel."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    x = 0.02 * rng.standard_normal((channels, n))
    for onset in rng.uniform(0.2, max(seconds - 0.5, 0.3), size=max(1, int(seconds / 1.5))):
        env = np.where(t >= onset, np.exp(-(t - onset) / 0.08), 0.0)
        burst = rng.standard_normal(n) * env * rng.uniform(0.3, 0.9)
        x += burst[None, :] * rng.uniform(0.6, 1.0, size=(channels, 1))
    x += 0.1 * np.sin(2 * np.pi * 220 * t)[None, :]
    return np.clip(x, -1, 1)


def write_wav_s16(path: str, x: np.ndarray, rate: int) -> None:
    pcm = np.round(np.clip(x, -1, 32767 / 32768) * 32768).astype("<i2").T.tobytes()
    ch = x.shape[0]
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, ch, rate, rate * ch * 2, ch * 2, 16) + b"data" + struct.pack("<I", len(pcm))
    with open(path, "wb") as f:
        f.write(header + pcm)


def window_starts(frames: int, rate: int, window_s: float) -> list[tuple[int, int]]:
    """(start, length) of every window: L = round(window * sr), s_i = round(i * hop * sr), halves up."""
    length = int(Fraction(window_s) * rate + Fraction(1, 2))
    if frames < length:
        return [(0, frames)]
    out, i = [], 0
    while True:
        s = int(i * HOP * rate + Fraction(1, 2))
        if s + length > frames:
            return out
        out.append((s, length))
        i += 1


def calibrate(model: torch.nn.Module, images: list) -> torch.nn.Module:
    """BatchNorm statistics from the recordings' own windows, so the probabilities spread over
    (0, 1) on them instead of saturating (the fixture model was calibrated on synthetic images)."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    x = torch.cat([images_to_input(i) for i in images])
    gen = torch.Generator().manual_seed(7)
    order = torch.randperm(x.shape[0], generator=gen)
    with torch.no_grad():
        for k in range(0, x.shape[0] - 1, 8):
            batch = x[order[k : k + 8]]
            if batch.shape[0] < 2:
                break
            model(batch.unsqueeze(1), torch.ones(batch.shape[0], 1, dtype=torch.bool))
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = 0.1
    return model.eval()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "manifest.json")
    digest = sources_digest("monitor_reference.py", "export_models.py", "attnmil.py", "reference_pipeline.py")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            if json.load(f).get("digest") == digest:
                return 0

    decoded = []
    for k, (name, rate, channels, seconds, windows) in enumerate(RECORDINGS):
        path = os.path.join(args.out, name + ".wav")
        write_wav_s16(path, signal(rate, channels, seconds, 100 + k), rate)
        decoded.append(ref.read_wav_exact(path)[:2])
    calibration = [ref.run(x[:, s : s + n], sr)[1] for x, sr in decoded for s, n in window_starts(x.shape[1], sr, 2.0)]
    model = calibrate(build_model(), calibration)
    ckpt = os.path.join(args.out, "monitor_model.pth")
    torch.save({"model_state_dict": model.state_dict(), "epoch": 1, "config": {}}, ckpt)
    cases = []
    for (name, rate, channels, seconds, windows), (x, sr) in zip(RECORDINGS, decoded):
        for window_s in windows:
            probs = []
            with torch.no_grad():
                for start, length in window_starts(x.shape[1], sr, window_s):
                    _, images = ref.run(x[:, start : start + length], sr)
                    inp = images_to_input(images).unsqueeze(0)
                    mask = torch.ones(1, inp.shape[1], dtype=torch.bool)
                    probs.append(float(model(inp, mask)[0][0]))
            cases.append({"file": name + ".wav", "rate": sr, "channels": channels, "frames": int(x.shape[1]),
                          "window_s": window_s, "hop_s": float(HOP), "probabilities": probs})
            print(f"{name} window {window_s} s: {len(probs)} windows", file=sys.stderr)
    write_manifest(manifest_path, {"digest": digest, "model": "monitor_model.pth", "cases": cases})
    return 0


if __name__ == "__main__":
    sys.exit(main())
