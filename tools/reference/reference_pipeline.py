"""The coughkit reference pipeline, written to be read as the definition of "correct".

This module restates sections 1-4 of docs/pipeline.md with torchaudio 0.13 / torch 1.13
(Debian python3-torchaudio / python3-torch). Every numeric step is a torchaudio/torch call
with the parameters the contract names; nothing here is an approximation.

  decode      -> (C, T) float32 at the native rate           (docs/pipeline.md section 1)
  condition   -> (T,) float32 mono at 16 kHz                 (section 2)
  segments    -> list of (32000,) windows                    (section 3)
  mel_image   -> (224, 224) float32 letterboxed log-mel      (section 4)

Decoding:
  * Lossless inputs (WAV of every sample type, FLAC) are decoded *exactly* per the
    contract by `read_wav_exact` / `read_flac_exact`: integer PCM divided by its full
    scale, u8 centred ((v - 128) / 128), float samples taken as stored (f64 rounded to
    f32). torchaudio's sox_io `load` is NOT used for them: it passes every sample through
    libsox's int32 and then SOX_SAMPLE_TO_FLOAT_32BIT, i.e. ((s + 64) & ~127) / 2^31, so
    s32 and float WAV are quantised to 2^-24 steps (f32 truncated, f64 rounded, to int32
    first) and floats are clipped to [-1, 1]. (u8, s16, s24 and FLAC come out exact;
    torchaudio 0.13 does centre u8.) shared/golden was decoded with torchaudio.load, hence
    its float WAV clip differs from the exact decode by up to ~6e-8 at the input.
  * Lossy inputs (MP3, Ogg/Vorbis, Opus, WebM/Opus, M4A/AAC) have no single "exact"
    decode; the reference decoder is `torchaudio.load` (sox_io backend) where libsox itself
    reads the file, otherwise the `ffmpeg` CLI decoding to f32 (`ffmpeg_decode`). (With
    Debian's libsox3 libsox reads none of them; torchaudio.load then silently falls back
    to its FFmpeg binding, which gives bit-identical samples to the CLI on this system.)

Run as a script to verify against a golden set:
    /usr/bin/python3 tools/reference/reference_pipeline.py [GOLDEN_DIR]
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio

TARGET_SR = 16000
SEGMENT_SAMPLES = 32000  # 2.0 s
HOP_SAMPLES = 8000  # 0.5 s
MAX_SEGMENTS = 32
IMAGE_SIZE = 224
N_MELS = 160
N_FRAMES = 201  # 1 + 32000 // 160 with center=True

# ----------------------------------------------------------------------------------------
# Section 2: condition
# ----------------------------------------------------------------------------------------

_resamplers = {}


def _resampler(sr: int) -> torchaudio.transforms.Resample:
    if sr not in _resamplers:
        # Defaults: sinc_interp_hann, lowpass_filter_width=6, rolloff=0.99, kernel built in
        # float64 and cached as float32.
        _resamplers[sr] = torchaudio.transforms.Resample(sr, TARGET_SR)
    return _resamplers[sr]


def condition(waveform: torch.Tensor, sr: int, highpass_hz: Optional[float] = None) -> torch.Tensor:
    """(C, T) float32 at `sr` -> (T',) float32 mono at 16 kHz (docs/pipeline.md section 2)."""
    x = waveform.to(torch.float32)
    if x.dim() == 1:
        x = x.unsqueeze(0)
    peak = x.abs().max()
    if peak > 0:
        x = x / peak  # 1. peak-normalise over all channels together
    x = x.mean(dim=0)  # 2. mono
    if sr != TARGET_SR:
        x = _resampler(sr)(x)  # 3. resample
    if highpass_hz is not None:
        # 4. optional high-pass (lfilter clamps its output to [-1, 1])
        x = torchaudio.functional.highpass_biquad(x, TARGET_SR, float(highpass_hz), Q=0.707)
    return x.contiguous()


# ----------------------------------------------------------------------------------------
# Section 3: segment
# ----------------------------------------------------------------------------------------


def segments(wave: torch.Tensor) -> List[torch.Tensor]:
    """2.0 s windows every 0.5 s, end-padded to 2.0 s, full windows only, at most 32."""
    if wave.shape[0] < SEGMENT_SAMPLES:
        wave = F.pad(wave, (0, SEGMENT_SAMPLES - wave.shape[0]))
    out = []
    start = 0
    while start + SEGMENT_SAMPLES <= wave.shape[0] and len(out) < MAX_SEGMENTS:
        out.append(wave[start : start + SEGMENT_SAMPLES])
        start += HOP_SAMPLES
    return out


# ----------------------------------------------------------------------------------------
# Section 4: log-mel image
# ----------------------------------------------------------------------------------------

_mel = torchaudio.transforms.MelSpectrogram(
    sample_rate=TARGET_SR,
    n_fft=1024,
    win_length=1024,
    hop_length=160,
    n_mels=N_MELS,
    f_min=50,
    f_max=4000,
    power=2.0,
    normalized=False,
)  # center=True, pad_mode="reflect", periodic Hann, HTK mel scale, norm=None
_to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80)

_SCALE = min(IMAGE_SIZE / N_MELS, IMAGE_SIZE / N_FRAMES)
_NEW_H = int(round(N_MELS * _SCALE))  # 178
_NEW_W = int(round(N_FRAMES * _SCALE))  # 224


def mel_image(segment: torch.Tensor) -> torch.Tensor:
    """(32000,) float32 -> (224, 224) float32 in [-1, 1]."""
    spec = _mel(segment)  # (160, 201), power
    db = _to_db(spec)  # top_db clamp relative to this segment's own max
    v = torch.clamp((db + 80.0) / 80.0, 0.0, 1.0) * 2.0 - 1.0
    h, w = v.shape
    scale = min(IMAGE_SIZE / h, IMAGE_SIZE / w)
    nh, nw = int(round(h * scale)), int(round(w * scale))
    r = F.interpolate(v[None, None], size=(nh, nw), mode="bilinear", align_corners=False)[0, 0]
    ph, pw = IMAGE_SIZE - nh, IMAGE_SIZE - nw
    r = F.pad(r, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=-1.0)
    return r.to(torch.float32).contiguous()


def mel_images(wave: torch.Tensor) -> torch.Tensor:
    """(T,) conditioned wave -> (S, 224, 224) float32, one image per segment."""
    with torch.no_grad():
        return torch.stack([mel_image(s) for s in segments(wave)])


# ----------------------------------------------------------------------------------------
# Section 1: decode
# ----------------------------------------------------------------------------------------

WAVE_FORMAT_PCM = 1
WAVE_FORMAT_IEEE_FLOAT = 3
WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def read_wav_exact(path: str) -> Tuple[np.ndarray, int, str]:
    """Exact RIFF/WAVE reader. Returns ((C, T) float32, sample_rate, sample_type)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            tag, ch, sr, _, align, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == WAVE_FORMAT_EXTENSIBLE:
                tag = struct.unpack("<H", body[24:26])[0]  # first 2 bytes of SubFormat GUID
            fmt = (tag, ch, sr, align, bits)
        elif cid == b"data":
            pcm = body
        pos += 8 + size + (size & 1)
    if fmt is None or pcm is None:
        raise ValueError(f"{path}: missing fmt or data chunk")
    tag, ch, sr, align, bits = fmt
    n = len(pcm) // align
    pcm = pcm[: n * align]
    if tag == WAVE_FORMAT_PCM and bits == 8:
        v = (np.frombuffer(pcm, np.uint8).astype(np.float64) - 128.0) / 128.0
        kind = "u8"
    elif tag == WAVE_FORMAT_PCM and bits == 16:
        v = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768.0
        kind = "s16"
    elif tag == WAVE_FORMAT_PCM and bits == 24:
        b = np.frombuffer(pcm, np.uint8).reshape(-1, 3).astype(np.int32)
        iv = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        iv = np.where(iv >= 1 << 23, iv - (1 << 24), iv)
        v = iv.astype(np.float64) / 8388608.0
        kind = "s24"
    elif tag == WAVE_FORMAT_PCM and bits == 32:
        v = np.frombuffer(pcm, "<i4").astype(np.float64) / 2147483648.0
        kind = "s32"
    elif tag == WAVE_FORMAT_IEEE_FLOAT and bits == 32:
        v = np.frombuffer(pcm, "<f4").astype(np.float64)
        kind = "f32"
    elif tag == WAVE_FORMAT_IEEE_FLOAT and bits == 64:
        v = np.frombuffer(pcm, "<f8")
        kind = "f64"
    else:
        raise ValueError(f"{path}: unsupported WAV sample type tag={tag} bits={bits}")
    # Each value above is exact in float64; one rounding to float32 = "convert to float32".
    return np.ascontiguousarray(v.reshape(n, ch).T.astype(np.float32)), sr, kind


def _require(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        raise RuntimeError(f"'{tool}' not found on PATH (Debian package 'ffmpeg')")
    return exe


def probe(path: str) -> dict:
    """First audio stream's codec, sample_fmt, rate, channels, bits_per_raw_sample."""
    out = subprocess.run(
        [_require("ffprobe"), "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=codec_name,sample_fmt,sample_rate,channels,bits_per_raw_sample",
         "-of", "json", path],
        check=True, capture_output=True,
    ).stdout
    return json.loads(out)["streams"][0]


def read_flac_exact(path: str) -> Tuple[np.ndarray, int]:
    """Exact FLAC decode: FFmpeg's FLAC decoder is lossless (integers), we output them left-
    aligned in s32 and divide by 2^31, which equals v / 2^(bits-1) exactly."""
    info = probe(path)
    ch, sr = int(info["channels"]), int(info["sample_rate"])
    raw = subprocess.run(
        [_require("ffmpeg"), "-nostdin", "-loglevel", "error", "-i", path,
         "-f", "s32le", "-acodec", "pcm_s32le", "-"],
        check=True, capture_output=True,
    ).stdout
    v = np.frombuffer(raw, "<i4").astype(np.float64) / 2147483648.0
    return np.ascontiguousarray(v.reshape(-1, ch).T.astype(np.float32)), sr


def ffmpeg_decode(path: str) -> Tuple[np.ndarray, int]:
    """Decode with the ffmpeg CLI to interleaved f32 at the native rate and channel count."""
    info = probe(path)
    ch, sr = int(info["channels"]), int(info["sample_rate"])
    raw = subprocess.run(
        [_require("ffmpeg"), "-nostdin", "-loglevel", "error", "-i", path,
         "-f", "f32le", "-acodec", "pcm_f32le", "-"],
        check=True, capture_output=True,
    ).stdout
    v = np.frombuffer(raw, "<f4")
    return np.ascontiguousarray(v.reshape(-1, ch).T), sr


def torchaudio_decode(path: str) -> Tuple[np.ndarray, int]:
    """torchaudio.load with the sox_io backend (normalize=True -> float32)."""
    wav, sr = torchaudio.load(path)
    return wav.numpy().astype(np.float32), int(sr)


def libsox_can_read(path: str) -> bool:
    """True when torchaudio.load would decode `path` with libsox itself. torchaudio 0.13's
    sox_io `load` silently falls back to its own FFmpeg binding when libsox returns nothing
    (Debian's libsox3 without libsox-fmt-* reads WAV but not FLAC/MP3/Vorbis/Opus/AAC)."""
    try:
        return torch.ops.torchaudio.sox_io_load_audio_file(path, 0, 1, True, True, None) is not None
    except Exception:
        return False


def decode(path: str, reference_decoder: Optional[str] = None) -> Tuple[np.ndarray, int, str]:
    """Reference decode. Returns ((C, T) float32, sr, decoder name).

    reference_decoder: "exact" (WAV/FLAC per docs/pipeline.md section 1), "torchaudio.sox_io"
    (torchaudio.load), "ffmpeg-cli", or None: "exact" for .wav/.flac, otherwise
    "torchaudio.sox_io" when libsox reads the file, else "ffmpeg-cli".
    """
    ext = os.path.splitext(path)[1].lower()
    if reference_decoder is None:
        if ext in (".wav", ".flac"):
            reference_decoder = "exact"
        else:
            reference_decoder = "torchaudio.sox_io" if libsox_can_read(path) else "ffmpeg-cli"
    if reference_decoder == "exact":
        if ext == ".wav":
            x, sr, _ = read_wav_exact(path)
        elif ext == ".flac":
            x, sr = read_flac_exact(path)
        else:
            raise ValueError(f"{path}: no exact decoder for {ext} (lossless WAV/FLAC only)")
    elif reference_decoder == "torchaudio.sox_io":
        x, sr = torchaudio_decode(path)
    elif reference_decoder == "ffmpeg-cli":
        x, sr = ffmpeg_decode(path)
    else:
        raise ValueError(f"unknown reference_decoder {reference_decoder!r}")
    return x, sr, reference_decoder


def run(waveform: np.ndarray, sr: int, highpass_hz: Optional[float] = None):
    """Decoded (C, T) -> (wave (T',) float32, mel (S, 224, 224) float32) as numpy."""
    with torch.no_grad():
        w = condition(torch.from_numpy(np.array(waveform, dtype=np.float32, order="C")), sr, highpass_hz)
        m = mel_images(w)
    return w.numpy().astype(np.float32), m.numpy().astype(np.float32)


# ----------------------------------------------------------------------------------------
# Verification against a golden set (the shared golden set)
# ----------------------------------------------------------------------------------------


def _compare(golden_dir: str, clip: dict, x: np.ndarray, sr: int) -> dict:
    wave, mel = run(x, sr)
    gw = np.load(os.path.join(golden_dir, clip["wave"]))
    gm = np.load(os.path.join(golden_dir, clip["mel"]))
    if gw.shape != wave.shape or gm.shape != mel.shape:
        return {"shape": f"wave {wave.shape} vs {gw.shape}, mel {mel.shape} vs {gm.shape}"}
    d = {"wave": float(np.abs(gw - wave).max()), "mel": float(np.abs(gm - mel).max())}
    if "wave_hpf50" in clip:
        wh, _ = run(x, sr, 50.0)
        d["hpf50"] = float(np.abs(np.load(os.path.join(golden_dir, clip["wave_hpf50"])) - wh).max())
    return d


def verify(golden_dir: str) -> float:
    """Recompute every clip of a reference set (shared/golden or make_reference.py output)
    and print max abs differences. For lossless clips also shows what torchaudio.load
    (sox_io) as the decoder gives: shared/golden was decoded with torchaudio.load, which
    quantises float and s32 WAV to 25 bits, so its f32 clip differs from the exact decode.
    Returns the worst per-clip difference with the better of the two decodes."""
    with open(os.path.join(golden_dir, "manifest.json")) as f:
        manifest = json.load(f)
    worst, worst_pipeline = 0.0, 0.0
    for clip in manifest["clips"]:
        path = os.path.join(golden_dir, clip["file"])
        x, sr, dec = decode(path, clip.get("reference_decoder"))
        d = _compare(golden_dir, clip, x, sr)
        vals = lambda dd: max([v if isinstance(v, float) else float("inf") for v in dd.values()])
        worst = max(worst, vals(d))
        best = vals(d)
        line = f"{os.path.basename(path):34s} sr={sr:<6d} ch={x.shape[0]}  {dec}: " + \
            " ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} MISMATCH {v}" for k, v in d.items())
        if dec == "exact":
            t, tsr = torchaudio_decode(path)
            dt = _compare(golden_dir, clip, t, tsr)
            best = min(best, vals(dt))
            line += "  | torchaudio.load: " + " ".join(
                f"{k} {v:.3g}" if isinstance(v, float) else f"{k} MISMATCH" for k, v in dt.items())
        worst_pipeline = max(worst_pipeline, best)
        print(line, flush=True)
    print(f"max abs difference, reference decode of each clip: {worst:.3g}")
    print(f"max abs difference, best of reference decode / torchaudio.load per clip "
          f"(sections 2-4 of the pipeline alone): {worst_pipeline:.3g}")
    return worst_pipeline


if __name__ == "__main__":
    torch.set_num_threads(2)
    if len(sys.argv) > 1:
        gd = sys.argv[1]
    else:  # <repo>/shared/golden where the checkout has one, else shared/ beside the repo
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        cands = [os.path.join(repo, "shared", "golden"), os.path.join(os.path.dirname(repo), "shared", "golden")]
        gd = next((c for c in cands if os.path.isfile(os.path.join(c, "manifest.json"))), cands[0])
    w = verify(gd)
    sys.exit(0 if w <= 1e-6 else 1)
