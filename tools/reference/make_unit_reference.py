#!/usr/bin/env python3
"""Reference values for coughkit's unit-level parity tests, computed with torchaudio.

Writes into --out (float32 .npy, NumPy format 1.0) plus manifest.json:
  mel_fb.npy                    torchaudio.functional.melscale_fbanks(513, 50, 4000, 160, 16000), (513, 160)
  resample_input.npy            a deterministic test signal (noise + tones), 1.0 s at 48 kHz-ish length
  resample_<orig>_<new>.npy     torchaudio.transforms.Resample(orig, new)(input) for each rate pair
  highpass_input.npy            a 16 kHz test signal that overshoots [-1, 1] after filtering
  highpass_<hz>.npy             torchaudio.functional.highpass_biquad(x, 16000, hz, Q=0.707)
  segment.npy / segment_image.npy   one 2-s segment and its un-letterboxed [-1,1] image (160, 201)

Fails (exit 1) when torch/torchaudio are missing: a parity test must never pass without
its reference.
"""
import argparse
import hashlib
import json
import os
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torchaudio
except ImportError as e:  # pragma: no cover - the point is to fail loudly
    sys.exit(f"make_unit_reference.py: the reference needs torch + torchaudio (Debian python3-torchaudio): {e}")

# Rate pairs: every rate the issue names, plus unusual integer pairs (coprime, tiny, huge,
# upsampling) — the resampler must match for any integer pair.
RESAMPLE_PAIRS = [
    (8000, 16000), (11025, 16000), (22050, 16000), (32000, 16000), (44100, 16000),
    (48000, 16000), (96000, 16000), (12345, 16000), (1000, 16000), (7000, 16000),
    (192000, 16000), (768000, 16000), (16001, 16000), (44100, 48000), (16000, 44100),
]
HIGHPASS_HZ = [50, 300]


def save(out, name, array):
    np.save(os.path.join(out, name), np.ascontiguousarray(array, dtype=np.float32))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    version = hashlib.sha256(open(__file__, "rb").read()).hexdigest()[:16]
    manifest_path = os.path.join(args.out, "manifest.json")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            if json.load(f).get("generator") == version:
                print(f"unit reference up to date ({version})")
                return
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".unitref-", dir=os.path.dirname(os.path.abspath(args.out)))

    fb = torchaudio.functional.melscale_fbanks(513, 50.0, 4000.0, 160, 16000, norm=None, mel_scale="htk")
    save(tmp, "mel_fb.npy", fb.numpy())

    gen = torch.Generator().manual_seed(1234)
    n = 48000
    t = torch.arange(n, dtype=torch.float64) / 48000.0
    x = (0.3 * torch.sin(2 * np.pi * 440 * t) + 0.2 * torch.sin(2 * np.pi * 5000 * t)).float()
    x = x + 0.1 * torch.randn(n, generator=gen)
    save(tmp, "resample_input.npy", x.numpy())
    pairs = []
    for orig, new in RESAMPLE_PAIRS:
        y = torchaudio.transforms.Resample(orig, new)(x)
        save(tmp, f"resample_{orig}_{new}.npy", y.numpy())
        pairs.append([orig, new])

    hp_in = (0.95 * torch.sign(torch.sin(2 * np.pi * 30 * torch.arange(16000) / 16000.0)) +
             0.04 * torch.randn(16000, generator=gen)).float()
    save(tmp, "highpass_input.npy", hp_in.numpy())
    for hz in HIGHPASS_HZ:
        save(tmp, f"highpass_{hz}.npy", torchaudio.functional.highpass_biquad(hp_in, 16000, hz, Q=0.707).numpy())

    seg = (0.5 * torch.sin(2 * np.pi * 700 * torch.arange(32000) / 16000.0) * torch.linspace(0, 1, 32000) +
           0.01 * torch.randn(32000, generator=gen)).float()
    save(tmp, "segment.npy", seg.numpy())
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=1024, win_length=1024, hop_length=160,
                                               n_mels=160, f_min=50.0, f_max=4000.0, power=2.0, normalized=False)
    db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80)(mel(seg))
    save(tmp, "segment_image.npy", (torch.clamp((db + 80) / 80, 0, 1) * 2 - 1).numpy())

    with open(os.path.join(tmp, "manifest.json"), "w") as f:
        json.dump({"generator": version, "torch": torch.__version__, "torchaudio": torchaudio.__version__,
                   "resample_pairs": pairs, "highpass_hz": HIGHPASS_HZ}, f, indent=1)
    if os.path.exists(args.out):
        import shutil
        shutil.rmtree(args.out)
    os.rename(tmp, args.out)
    print(f"unit reference written to {args.out}")


if __name__ == "__main__":
    main()
