#!/usr/bin/python3
"""Generate coughkit's reference set: synthetic clips in every supported container/codec,
and the conditioned waveforms and log-mel images the reference pipeline
(reference_pipeline.py, i.e. torchaudio 0.13 / torch 1.13) computes for them.

Usage:  /usr/bin/python3 tools/reference/make_reference.py --out DIR [--quick] [--force]

Layout (same as shared/golden): DIR/audio/<name>.<ext>, DIR/arrays/<name>.wave.npy,
DIR/arrays/<name>.mel.npy, DIR/arrays/<name>.wave_hpf50.npy (some clips), DIR/manifest.json.
See README.md beside this file for the manifest fields.

Idempotent: if DIR/manifest.json was written by the same generator version (sha256 of this
file and reference_pipeline.py), it exits 0 without regenerating. Output is built in a
temporary sibling directory and renamed into place at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave as wavemod

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR_FILES = ("make_reference.py", "reference_pipeline.py")
REQUIRED_ENCODERS = ("libmp3lame", "libvorbis", "libopus", "aac", "flac")


def die(msg: str) -> None:
    print(f"make_reference: error: {msg}", file=sys.stderr)
    sys.exit(2)


def generator_version() -> str:
    h = hashlib.sha256()
    for name in GENERATOR_FILES:
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()


def check_dependencies() -> None:
    missing = []
    try:
        import numpy  # noqa: F401
    except ImportError:
        missing.append("numpy (Debian: python3-numpy)")
    try:
        import torch  # noqa: F401
    except ImportError:
        missing.append("torch (Debian: python3-torch)")
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        missing.append("torchaudio (Debian: python3-torchaudio)")
    if missing:
        die("missing Python modules: " + ", ".join(missing)
            + f" for {sys.executable}; run with Debian's /usr/bin/python3")
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            die(f"'{tool}' not found on PATH (Debian package 'ffmpeg')")
    enc = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    names = {line.split()[1] for line in enc.splitlines() if len(line.split()) > 1}
    lacking = [e for e in REQUIRED_ENCODERS if e not in names]
    if lacking:
        die("ffmpeg lacks encoders: " + ", ".join(lacking))


# ----------------------------------------------------------------------------------------
# Clip plan: a covering set, not a cartesian product.
#   name, format, synthesis rate, channels, duration (s), signal, seed, high-pass clip?
# ----------------------------------------------------------------------------------------

CLIPS = [
    # --- WAV, every sample type -------------------------------------------------------
    ("wav_u8_8k_mono_tone", "wav_u8", 8000, 1, 1.5, "tone_noise", 101, False),
    ("wav_u8_22k_stereo_square", "wav_u8", 22050, 2, 1.0, "square_full", 102, False),
    ("wav_s16_8k_mono_100ms", "wav_s16", 8000, 1, 0.1, "cough", 103, False),
    ("wav_s16_11k_stereo_cough_2s", "wav_s16", 11025, 2, 2.0, "cough", 104, False),
    ("wav_s16_16k_mono_chirp_2p49s", "wav_s16", 16000, 1, 2.49, "chirp", 105, False),
    ("wav_s16_16k_mono_tone_hpf", "wav_s16", 16000, 1, 3.3, "tone_noise", 106, True),
    ("wav_s16_16k_mono_silence", "wav_s16", 16000, 1, 2.5, "silence", 107, False),
    ("wav_s16_16k_mono_square_full", "wav_s16", 16000, 1, 2.0, "square_full", 108, True),
    ("wav_s16_44k_6ch_cough", "wav_s16", 44100, 6, 3.3, "cough", 109, False),
    ("wav_s16_11k_mono_long_20s", "wav_s16", 11025, 1, 20.0, "mix", 110, False),
    ("wav_s24_48k_3ch_cough_hpf", "wav_s24", 48000, 3, 3.0, "cough", 111, True),
    ("wav_s32_96k_stereo_chirp", "wav_s32", 96000, 2, 2.5, "chirp", 112, False),
    ("wav_f32_22k_4ch_mix", "wav_f32", 22050, 4, 4.0, "mix", 113, False),
    ("wav_f64_32k_5ch_tone_gt1", "wav_f64", 32000, 5, 2.2, "tone_noise_hot", 114, False),
    # --- FLAC -------------------------------------------------------------------------
    ("flac_s16_32k_mono_cough", "flac", 32000, 1, 4.1, "cough", 201, False),
    ("flac_s16_44k_stereo_mix", "flac", 44100, 2, 2.0, "mix", 202, False),
    ("flac_s24_96k_mono_chirp", "flac24", 96000, 1, 2.6, "chirp", 203, False),
    # --- MP3 (<= 48 kHz, <= 2 channels) -----------------------------------------------
    ("mp3_44k_stereo_cough_hpf", "mp3", 44100, 2, 5.0, "cough", 301, True),
    ("mp3_22k_mono_long_60s", "mp3", 22050, 1, 60.0, "mix", 302, False),
    ("mp3_8k_mono_1s", "mp3", 8000, 1, 1.0, "tone_noise", 303, False),
    ("mp3_48k_stereo_2s", "mp3", 48000, 2, 2.0, "chirp", 304, False),
    # --- Ogg/Vorbis -------------------------------------------------------------------
    ("ogg_vorbis_44k_stereo_mix", "ogg_vorbis", 44100, 2, 3.0, "mix", 401, False),
    ("ogg_vorbis_11k_mono_2p49s", "ogg_vorbis", 11025, 1, 2.49, "cough", 402, False),
    ("ogg_vorbis_96k_6ch_cough", "ogg_vorbis", 96000, 6, 2.0, "cough", 403, False),
    # --- Opus in Ogg (encoder rates 8/12/16/24/48 kHz; decoded at 48 kHz) -------------
    ("opus_48k_stereo_cough", "opus", 48000, 2, 3.0, "cough", 501, False),
    ("opus_16k_mono_2p5s", "opus", 16000, 1, 2.5, "tone_noise", 502, False),
    ("opus_8k_mono_500ms", "opus", 8000, 1, 0.5, "cough", 503, False),
    ("opus_48k_6ch_mix", "opus", 48000, 6, 2.0, "mix", 504, False),
    # --- WebM/Opus (browser MediaRecorder style) --------------------------------------
    ("webm_opus_48k_mono_cough", "webm_opus", 48000, 1, 4.0, "cough", 601, False),
    ("webm_opus_48k_stereo_2s", "webm_opus", 48000, 2, 2.0, "chirp", 602, False),
    # --- M4A/AAC ----------------------------------------------------------------------
    ("m4a_aac_44k_stereo_cough", "m4a_aac", 44100, 2, 3.0, "cough", 701, False),
    ("m4a_aac_16k_mono_2s", "m4a_aac", 16000, 1, 2.0, "tone_noise", 702, False),
    ("m4a_aac_48k_6ch_mix", "m4a_aac", 48000, 6, 2.5, "mix", 703, False),
]

EXT = {"wav_u8": "wav", "wav_s16": "wav", "wav_s24": "wav", "wav_s32": "wav", "wav_f32": "wav",
       "wav_f64": "wav", "flac": "flac", "flac24": "flac", "mp3": "mp3", "ogg_vorbis": "ogg",
       "opus": "opus", "webm_opus": "webm", "m4a_aac": "m4a"}
LOSSY = {"mp3", "ogg_vorbis", "opus", "webm_opus", "m4a_aac"}
FF = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]
BITEXACT = ["-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"]


# ----------------------------------------------------------------------------------------
# Synthesis (float64, deterministic per seed)
# ----------------------------------------------------------------------------------------


def synth(kind: str, sr: int, ch: int, dur: float, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(round(dur * sr))
    t = np.arange(n) / sr
    nyq = sr / 2
    out = np.zeros((ch, n))

    def cough(c):
        x = np.zeros(n)
        k = max(1, int(dur / 0.6))
        for _ in range(k):
            t0 = rng.uniform(0, max(dur - 0.05, 0.001))
            i0 = int(t0 * sr)
            m = n - i0
            tt = np.arange(m) / sr
            env = (1 - np.exp(-tt / 0.004)) * np.exp(-tt / rng.uniform(0.04, 0.15))
            burst = rng.standard_normal(m)
            # crude broadband "throat" colour: a few damped resonances on top of the noise
            for f in rng.uniform(200, min(3000, 0.8 * nyq), 3):
                burst += 2.0 * np.sin(2 * np.pi * f * tt + rng.uniform(0, 6.3)) * np.exp(-tt / 0.03)
            x[i0:] += rng.uniform(0.3, 1.0) * env * burst
        x += 0.003 * rng.standard_normal(n)  # room noise floor
        return x

    def tone_noise(c):
        f = [110.0 * (c + 1), 440.0 + 97.0 * c, min(1500.0 + 250.0 * c, 0.45 * sr)]
        x = sum(a * np.sin(2 * np.pi * fi * t + rng.uniform(0, 6.3)) for a, fi in zip((0.4, 0.3, 0.1), f))
        return x + 0.05 * rng.standard_normal(n)

    def chirp(c):
        f0, f1 = 50.0 * (1 + c), 0.45 * sr  # exponential sweep up to 0.9 * Nyquist
        k = np.log(f1 / f0) / max(dur, 1e-9)
        ph = 2 * np.pi * f0 * (np.exp(k * t) - 1) / k
        return 0.7 * np.sin(ph + c)

    for c in range(ch):
        if kind == "silence":
            x = np.zeros(n)
        elif kind == "square_full":
            f = 200.0 * (c + 1)
            x = np.where(np.sin(2 * np.pi * f * t + 0.1) >= 0, 1.0, -1.0)
        elif kind == "cough":
            x = cough(c)
        elif kind in ("tone_noise", "tone_noise_hot"):
            x = tone_noise(c)
        elif kind == "chirp":
            x = chirp(c)
        elif kind == "mix":
            x = 0.5 * tone_noise(c) + cough(c) + 0.3 * chirp(c)
        else:
            raise ValueError(kind)
        # per-channel differences: gain, a small delay, polarity of every 3rd channel
        d = min(n, 7 * c)
        if d:
            x = np.concatenate([np.zeros(d), x[: n - d]])
        out[c] = x * (1.0 - 0.12 * c) * (-1.0 if c % 3 == 2 else 1.0)
    if kind not in ("silence", "square_full"):
        peak = np.abs(out).max()
        if peak > 0:
            out *= (2.0 if kind == "tone_noise_hot" else 0.8) / peak  # _hot: float > 1.0
    return out


def quantise(x, fmt):
    """Synthesised float64 (C, T) -> (integer/float samples to write, exact decoded float32
    per docs/pipeline.md section 1)."""
    import numpy as np

    def q(scale, lo, hi):
        v = np.clip(np.round(x * scale), lo, hi)
        return v, (v / scale).astype(np.float32)

    if fmt == "wav_u8":
        v, _ = q(128, -128, 127)
        return (v + 128).astype(np.uint8), (v / 128).astype(np.float32)
    if fmt in ("wav_s16", "flac"):
        v, d = q(32768, -32768, 32767)
        return v.astype(np.int16), d
    if fmt in ("wav_s24", "flac24"):
        v, d = q(8388608, -8388608, 8388607)
        return v.astype(np.int32), d
    if fmt == "wav_s32":
        v, d = q(2147483648, -2147483648, 2147483647)
        return v.astype(np.int32), d
    if fmt == "wav_f32":
        v = x.astype(np.float32)
        return v, v
    if fmt == "wav_f64":
        return x.astype(np.float64), x.astype(np.float32)
    # lossy: feed the encoder float32
    v = x.astype(np.float32)
    return v, None


def write_clip(path: str, fmt: str, samples, sr: int, ch: int) -> None:
    import numpy as np

    inter = np.ascontiguousarray(samples.T)  # (T, C) interleaved
    if fmt in ("wav_u8", "wav_s16") and ch <= 2:
        # plain WAVE_FORMAT_PCM header from Python's wave module
        with wavemod.open(path, "wb") as w:
            w.setnchannels(ch)
            w.setsampwidth(1 if fmt == "wav_u8" else 2)
            w.setframerate(sr)
            w.writeframes(inter.astype("u1" if fmt == "wav_u8" else "<i2").tobytes())
        return
    if fmt == "wav_u8":
        raw, rawfmt, codec = inter.astype("u1"), "u8", ["-c:a", "pcm_u8"]
    elif fmt in ("wav_s16", "flac"):
        raw, rawfmt = inter.astype("<i2"), "s16le"
        codec = ["-c:a", "pcm_s16le"] if fmt == "wav_s16" else ["-c:a", "flac"]
    elif fmt in ("wav_s24", "flac24"):
        # s32 carrying 24-bit values in the top bits; both encoders keep the top 24 bits
        raw, rawfmt = (inter.astype(np.int64) << 8).astype("<i4"), "s32le"
        codec = ["-c:a", "pcm_s24le"] if fmt == "wav_s24" else ["-c:a", "flac"]
    elif fmt == "wav_s32":
        raw, rawfmt, codec = inter.astype("<i4"), "s32le", ["-c:a", "pcm_s32le"]
    elif fmt == "wav_f32":
        raw, rawfmt, codec = inter.astype("<f4"), "f32le", ["-c:a", "pcm_f32le"]
    elif fmt == "wav_f64":
        raw, rawfmt, codec = inter.astype("<f8"), "f64le", ["-c:a", "pcm_f64le"]
    else:
        raw, rawfmt = inter.astype("<f4"), "f32le"
        mono = ch == 1
        codec = {
            "mp3": ["-c:a", "libmp3lame", "-b:a", "64k" if mono else "128k"],
            "ogg_vorbis": ["-c:a", "libvorbis", "-q:a", "4"],
            "opus": ["-c:a", "libopus", "-b:a", "48k" if mono else "96k"],
            "webm_opus": ["-c:a", "libopus", "-b:a", "48k" if mono else "96k", "-f", "webm"],
            "m4a_aac": ["-c:a", "aac", "-b:a", "64k" if mono else "128k"],
        }[fmt]
    cmd = FF + ["-f", rawfmt, "-ar", str(sr), "-ac", str(ch), "-i", "-"] + codec + BITEXACT + [path]
    subprocess.run(cmd, input=raw.tobytes(), check=True)


# ----------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------


def max_abs(a, b):
    import numpy as np

    n = min(a.shape[-1], b.shape[-1]) if a.ndim == 1 else min(a.shape[0], b.shape[0])
    if n == 0:
        return None
    return float(np.abs(a[..., :n] - b[..., :n]).max()) if a.ndim == 1 else float(np.abs(a[:n] - b[:n]).max())


def generate(out_dir: str, version: str) -> None:
    import numpy as np
    import torch
    import torchaudio

    sys.path.insert(0, HERE)
    import reference_pipeline as rp

    torch.set_num_threads(2)
    os.makedirs(os.path.join(out_dir, "audio"))
    os.makedirs(os.path.join(out_dir, "arrays"))
    ffver = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    manifest = {
        "clips": [],
        "generator": {
            "tool": "tools/reference/make_reference.py",
            "version": version,
            "torch": torch.__version__,
            "torchaudio": torchaudio.__version__,
            "ffmpeg": ffver,
        },
    }
    for name, fmt, sr, ch, dur, kind, seed, hpf in CLIPS:
        t0 = time.time()
        rel_audio = f"audio/{name}.{EXT[fmt]}"
        path = os.path.join(out_dir, rel_audio)
        x = synth(kind, sr, ch, dur, seed)
        samples, exact = quantise(x, fmt)
        write_clip(path, fmt, samples, sr, ch)
        lossy = fmt in LOSSY
        if not lossy:
            # Reference input: the exact contract decode, i.e. the values we quantised.
            # Check the file really holds them (our exact readers must agree bit for bit).
            dec, dsr, _ = rp.decode(path, "exact")
            if dsr != sr or dec.shape != exact.shape or not np.array_equal(dec, exact):
                raise RuntimeError(f"{name}: exact decode of the written file differs from the synthesised values")
            ref_in, ref_sr, decoder = exact, sr, "exact"
        else:
            decoder = "torchaudio.sox_io" if rp.libsox_can_read(path) else "ffmpeg-cli"
            ref_in, ref_sr, _ = rp.decode(path, decoder)
        wave, mel = rp.run(ref_in, ref_sr)
        np.save(os.path.join(out_dir, "arrays", f"{name}.wave.npy"), wave)
        np.save(os.path.join(out_dir, "arrays", f"{name}.mel.npy"), mel)
        entry = {
            "file": rel_audio,
            "wave": f"arrays/{name}.wave.npy",
            "mel": f"arrays/{name}.mel.npy",
            "samples_16k": int(wave.shape[0]),
            "segments": int(mel.shape[0]),
        }
        if hpf:
            wh, _ = rp.run(ref_in, ref_sr, 50.0)
            np.save(os.path.join(out_dir, "arrays", f"{name}.wave_hpf50.npy"), wh)
            entry["wave_hpf50"] = f"arrays/{name}.wave_hpf50.npy"
        entry.update({
            "format": "flac" if fmt == "flac24" else fmt,
            "sample_rate": int(ref_sr),
            "channels": int(ref_in.shape[0]),
            "duration_s": round(ref_in.shape[1] / ref_sr, 6),
            "frames": int(ref_in.shape[1]),
            "lossy": lossy,
            "reference_decoder": decoder,
            "synth": {"signal": kind, "seed": seed, "sample_rate": sr, "channels": ch,
                      "duration_s": dur},
        })
        if fmt == "flac24":
            entry["synth"]["bits"] = 24
        # Decoder comparison. Lossy: torchaudio.load vs the ffmpeg CLI (whichever is not
        # the reference). Lossless: torchaudio.load vs the exact contract decode (sox_io
        # quantises float/s32 WAV to 25 bits; shows where a torchaudio-based reference
        # would deviate from the contract).
        ta = rp.torchaudio_decode(path)
        if lossy:
            ff = (ref_in, ref_sr) if decoder == "ffmpeg-cli" else rp.ffmpeg_decode(path)
            pair, label = (ta, ff), "torchaudio.load vs ffmpeg-cli"
        else:
            pair, label = (ta, (ref_in, ref_sr)), "torchaudio.load vs exact"
        diff = {"compared": label, "torchaudio_load_path":
                "libsox" if rp.libsox_can_read(path) else "torchaudio-ffmpeg-fallback"}
        (a, a_sr), (b, b_sr) = pair
        if a_sr != b_sr or a.shape[0] != b.shape[0]:
            diff["note"] = f"rate/channels differ: {a_sr}/{a.shape[0]} vs {b_sr}/{b.shape[0]}"
        else:
            def features(arr, arr_sr):
                same = arr_sr == ref_sr and arr.shape == ref_in.shape and np.array_equal(arr, ref_in)
                return (wave, mel) if same else rp.run(arr, arr_sr)
            wb, mb = features(b, b_sr)
            wa, ma = (wb, mb) if a.shape == b.shape and np.array_equal(a, b) else features(a, a_sr)
            diff.update({
                "frames": [int(a.shape[1]), int(b.shape[1])],
                "input_max_abs": max_abs(a.T, b.T),
                "wave_max_abs": max_abs(wa, wb),
                "mel_max_abs": max_abs(ma, mb) if ma.shape[0] == mb.shape[0] else None,
            })
        entry["decoder_diff"] = diff
        manifest["clips"].append(entry)
        fmt_d = lambda v: "n/a" if v is None else f"{v:.3g}"
        print(f"{name:32s} {entry['format']:10s} {ref_sr:6d} Hz {entry['channels']}ch "
              f"{entry['duration_s']:8.4f} s  {decoder:17s} {entry['samples_16k']:7d} smp16k "
              f"{entry['segments']:2d} seg  [{label}: wave {fmt_d(diff.get('wave_max_abs'))} "
              f"mel {fmt_d(diff.get('mel_max_abs'))}]  {time.time() - t0:.1f}s", flush=True)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--quick", action="store_true",
                    help="accepted for later use; currently generates the same full set")
    ap.add_argument("--force", action="store_true", help="regenerate even if up to date")
    args = ap.parse_args()

    out = os.path.abspath(args.out)
    version = generator_version()
    mpath = os.path.join(out, "manifest.json")
    if not args.force and os.path.isfile(mpath):
        try:
            with open(mpath) as f:
                if json.load(f).get("generator", {}).get("version") == version:
                    print(f"make_reference: {args.out} is up to date (generator {version[:12]})")
                    return 0
        except (OSError, ValueError):
            pass
    check_dependencies()

    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix=os.path.basename(out) + ".tmp-", dir=parent)
    try:
        generate(os.path.join(tmp, "new"), version)
        old = None
        if os.path.lexists(out):
            old = os.path.join(tmp, "old")
            os.rename(out, old)
        os.rename(os.path.join(tmp, "new"), out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    size = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out) for fn in fns)
    print(f"make_reference: wrote {len(CLIPS)} clips to {args.out} ({size / 1e6:.1f} MB) "
          f"in {time.time() - t0:.0f} s, generator {version[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
