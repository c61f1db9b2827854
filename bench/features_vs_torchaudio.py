#!/usr/bin/env python3
"""Preprocessing speed: coughkit vs the torchaudio reference pipeline, same clip, same run.

Work measured (both sides, single thread, from decoded samples): conditioning (peak
normalise, mono, resample 44.1 -> 16 kHz) and the log-mel image of every 2-s segment of a
30-s 44.1-kHz stereo clip. The torchaudio side is tools/reference/reference_pipeline.py,
the definition of correct. Prints one JSON object with both medians, the ratio, and the
parity of the two outputs on this clip.

Usage: /usr/bin/python3 bench/features_vs_torchaudio.py [--build build] [--repeat 5]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))
import reference_pipeline as ref  # noqa: E402


def make_clip(path, seconds=30.0, rate=44100):
    rng = np.random.default_rng(42)
    t = np.arange(int(seconds * rate)) / rate
    left = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)
    right = 0.3 * np.sin(2 * np.pi * 660 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t)) + 0.05 * rng.standard_normal(t.size)
    pcm = (np.clip(np.stack([left, right], 1), -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def all_images(wave16k):
    """Every full 2-s window, not only the first 32 (the C++ side is timed the same way)."""
    n = wave16k.shape[0]
    starts = range(0, max(n - ref.SEGMENT_SAMPLES, 0) + 1, ref.HOP_SAMPLES)
    return torch.stack([ref.mel_image(wave16k[s:s + ref.SEGMENT_SAMPLES]) for s in starts])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        clip = os.path.join(tmp, "clip_30s_44k_stereo.wav")
        make_clip(clip)
        x, sr, _ = ref.read_wav_exact(clip)
        xt = torch.from_numpy(x)
        times = []
        with torch.no_grad():
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                w = ref.condition(xt, sr)
                images = all_images(w)
                times.append((time.perf_counter() - t0) * 1000)
        torch_ms = float(np.median(times))

        bench = os.path.join(args.build, "bin", "coughkit_features_bench")
        env = dict(os.environ, COUGHKIT_BENCH_WAV=clip)
        out = subprocess.run([bench, "--benchmark_filter=BM_ConditionAndMelImages", "--benchmark_format=json"],
                             env=env, check=True, capture_output=True, text=True).stdout
        result = json.loads(out)
        median = [b for b in result["benchmarks"] if b["name"].endswith("_median")][0]
        ck_ms = median["real_time"] if median["time_unit"] == "ms" else median["real_time"] / 1e6

        # Parity on this clip, through the CLI (same code path as the benchmark).
        npy_dir = os.path.join(tmp, "npy")
        subprocess.run([os.path.join(args.build, "bin", "coughkit"), "--log-level", "warn", "features",
                        "--npy-dir", npy_dir, clip], check=True)
        ck_wave = np.load(os.path.join(npy_dir, "clip_30s_44k_stereo.wave.npy"))
        ck_mel = np.load(os.path.join(npy_dir, "clip_30s_44k_stereo.mel.npy"))
        ref_first32 = images[:ck_mel.shape[0]].numpy()

    report = {
        "clip": "30 s, 44.1 kHz, stereo, s16 WAV",
        "segments": int(images.shape[0]),
        "threads": 1,
        "torchaudio_ms_median": round(torch_ms, 2),
        "torchaudio_ms_min": round(min(times), 2),
        "coughkit_ms_median": round(ck_ms, 3),
        "speedup": round(torch_ms / ck_ms, 1),
        "wave_max_abs_diff": float(np.abs(ck_wave - w.numpy()).max()),
        "mel_max_abs_diff_first32": float(np.abs(ck_mel - ref_first32).max()),
        "torch": torch.__version__,
        "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
