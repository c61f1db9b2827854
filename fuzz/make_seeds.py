"""Writes the seed corpora of coughkit's fuzz targets (fuzz/README.md).

    /usr/bin/python3 fuzz/make_seeds.py --out DIR

DIR/<target>/ gets small valid inputs of each kind the target parses (libFuzzer mutates
from there; small seeds mutate faster), DIR/model/tiny_mil.onnx the model the HTTP target
serves. Audio comes from ffmpeg in every format the project supports, models from the
reference exporter's toy network, checkpoints from torch.save (zip and legacy), arrays
from numpy. Deterministic: the same files every run (ffmpeg's -fflags +bitexact).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))

# (file name, ffmpeg output options): every format the decoder tests cover, 0.3 s each.
AUDIO = [
    ("s16_8k_mono.wav", ["-c:a", "pcm_s16le"]),
    ("u8_8k_mono.wav", ["-c:a", "pcm_u8"]),
    ("s24_8k_stereo.wav", ["-ac", "2", "-c:a", "pcm_s24le"]),
    ("s32_8k_mono.wav", ["-c:a", "pcm_s32le"]),
    ("f32_8k_stereo.wav", ["-ac", "2", "-c:a", "pcm_f32le"]),
    ("f64_8k_mono.wav", ["-c:a", "pcm_f64le"]),
    ("s16_8k_mono.flac", ["-c:a", "flac"]),
    ("mono_8k.mp3", ["-c:a", "libmp3lame", "-b:a", "16k"]),
    ("mono_11k.ogg", ["-ar", "11025", "-c:a", "libvorbis"]),
    ("mono_8k.opus", ["-c:a", "libopus", "-b:a", "8k"]),
    ("stereo_48k.webm", ["-ar", "48000", "-ac", "2", "-c:a", "libopus", "-b:a", "12k", "-f", "webm"]),
    ("mono_8k.m4a", ["-c:a", "aac", "-b:a", "16k"]),
]

HTTP_WAV_BOUNDARY = "coughkitfuzzboundary"


def ffmpeg_audio(path: str, options: list[str]) -> None:
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.3:sample_rate=8000",
           "-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"] + options + [path]
    subprocess.run(cmd, check=True)


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def audio_seeds(out: str) -> None:
    for target in ("audio_decode", "audio_stream"):
        os.makedirs(os.path.join(out, target), exist_ok=True)
        for name, options in AUDIO:
            ffmpeg_audio(os.path.join(out, target, name), options)


def model_seeds(out: str) -> None:
    import export_models  # the reference exporter's toy networks (tools/reference)
    import onnx

    target = os.path.join(out, "onnx_model")
    os.makedirs(target, exist_ok=True)
    export_models.bad_models(target)  # tiny_mil.onnx plus one file per refusal the loader makes
    os.makedirs(os.path.join(out, "model"), exist_ok=True)
    onnx.save(onnx.load(os.path.join(target, "tiny_mil.onnx")), os.path.join(out, "model", "tiny_mil.onnx"))


def checkpoint_seeds(out: str) -> None:
    import torch

    torch.manual_seed(1)
    state = {"lin.weight": torch.randn(1, 3), "lin.bias": torch.zeros(1),
             "bn.running_mean": torch.zeros(2), "bn.num_batches_tracked": torch.tensor(3)}
    full = {"model_state_dict": state, "epoch": 4, "val_auc": 0.81, "val_ap": 0.7,
            "config": {"sample_rate": 16000, "lr": 1e-3, "arch": "resnet18", "flags": [True, None], "nested": {"a": 1}},
            "optimizer_state_dict": {"state": {}, "param_groups": [{"lr": 1e-3}]}}
    target = os.path.join(out, "checkpoint")
    os.makedirs(target, exist_ok=True)
    torch.save(full, os.path.join(target, "full_zip.pth"))
    torch.save(full, os.path.join(target, "full_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save(state, os.path.join(target, "bare_state_dict.pth"))
    torch.save({"state_dict": {k: v.half() for k, v in state.items() if v.is_floating_point()}},
               os.path.join(target, "fp16.pth"))
    torch.save({"model_state_dict": {"w": torch.randn(4, 4).bfloat16(), "v": torch.randn(8)[::2]}},
               os.path.join(target, "bf16_strided.pth"))


def csv_seeds(out: str) -> None:
    write(os.path.join(out, "clip_labels_csv", "basic.csv"),
          b"file_path,cough_label\naudio/a.wav,1\naudio/b.wav,0\n")
    write(os.path.join(out, "clip_labels_csv", "quoted_segments.csv"),
          b'\xef\xbb\xbfid,file_path,cough_label,segment_labels\r\n1,"dir, with comma/a.wav",yes,"0 0 1 1"\r\n'
          b'2,"multi\nline ""q"".wav",n,\r\n\r\n3,c.flac,True,00110\r\n')
    report = (b'{"file":"night.opus","duration_s":7200.0,"events":[{"start_s":12.5,"end_s":14.0,'
              b'"cough_onsets_s":[12.5,13.4],"cough_offsets_s":[13.0,14.0],"coughs":2}],'
              b'"counts":{"total":2}}\n')
    write(os.path.join(out, "evaluate_inputs", "report_and_truth.txt"),
          report + b"file,onset_s,offset_s,coughs\nnight.opus,12.4,13.1,1\nnight.opus,13.3,14.2,1\n")
    write(os.path.join(out, "evaluate_inputs", "truth_only.csv"),
          b"file,onset_s,offset_s\nrec.wav,1.0,1.5\n\"b,c.wav\",2,2.25\n")


def npy_seeds(out: str) -> None:
    target = os.path.join(out, "npy")
    os.makedirs(target, exist_ok=True)
    np.save(os.path.join(target, "f32_2x3.npy"), np.arange(6, dtype="<f4").reshape(2, 3))
    np.save(os.path.join(target, "f16_image.npy"), np.linspace(-1, 1, 4 * 8 * 8, dtype="<f2").reshape(4, 8, 8))
    # A feature-cache entry: the clip's metadata as a comment after the header dict.
    buf = io.BytesIO()
    np.save(buf, np.zeros((1, 4, 4), dtype="<f2"))
    raw = buf.getvalue()
    header_len = int.from_bytes(raw[8:10], "little")
    header = raw[10:10 + header_len].rstrip(b" \n")
    header += b' # {"file":"a.wav","segments":1}'
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    write(os.path.join(target, "cache_entry.npy"), raw[:8] + len(header).to_bytes(2, "little") + header +
          raw[10 + header_len:])


def http_seeds(out: str) -> None:
    with open(os.path.join(out, "audio_decode", "s16_8k_mono.wav"), "rb") as f:
        wav = f.read()

    def multipart(path: str, field: str, extra: bytes = b"") -> bytes:
        body = (f"--{HTTP_WAV_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"a.wav\"\r\n"
                "Content-Type: audio/wav\r\n\r\n").encode() + wav + f"\r\n--{HTTP_WAV_BOUNDARY}--\r\n".encode()
        return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={HTTP_WAV_BOUNDARY}"
                f"\r\nContent-Length: {len(body)}\r\n").encode() + extra + b"\r\n" + body

    seeds = {
        "get_health": b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        "get_live_ready": b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\nGET /health/ready HTTP/1.1\r\nHost: x\r\n\r\n",
        "get_metrics": b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n\r\n",
        "get_model": b"GET /v1/model HTTP/1.0\r\n\r\n",
        "get_index": b"GET /?x=1&y=%41 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "v1_detect": multipart("/v1/detect?threshold=0.5", "file", b"X-Request-Id: abc-1\r\n"),
        "legacy_detect": multipart("/api/detect-cough", "audio"),
        "v1_detect_raw": (b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nContent-Length: "
                          + str(len(wav)).encode() + b"\r\n\r\n" + wav),
        "v1_monitor": multipart("/v1/monitor", "file"),
        "job_get_delete": b"GET /v1/jobs/1 HTTP/1.1\r\nHost: x\r\n\r\nDELETE /v1/jobs/1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "chunked": (b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: audio/wav\r\n\r\n"
                    + f"{len(wav):x}\r\n".encode() + wav + b"\r\n0\r\n\r\n"),
        "options_cors": b"OPTIONS /v1/detect HTTP/1.1\r\nHost: x\r\nOrigin: http://a\r\n\r\n",
        "range": b"GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-10,20-\r\n\r\n",
    }
    target = os.path.join(out, "http_request")
    for name, data in seeds.items():
        write(os.path.join(target, name), data)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    audio_seeds(args.out)
    model_seeds(args.out)
    checkpoint_seeds(args.out)
    csv_seeds(args.out)
    npy_seeds(args.out)
    http_seeds(args.out)
    for target in sorted(os.listdir(args.out)):
        print(f"{target}: {len(os.listdir(os.path.join(args.out, target)))} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
