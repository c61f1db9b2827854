"""The seed system's way of scoring a long recording, as the benchmark peer of `coughkit
monitor`: every 2-s window every 0.5 s (docs/pipeline.md section 9) through the torchaudio
reference pipeline (tools/reference/reference_pipeline.py), scored by ONNX Runtime
(ort_score.js) in batches. Decoding streams through the ffmpeg CLI (f32 at the native rate),
which is kinder to the peer than torchaudio.load's whole-file decode.

    /usr/bin/python3 bench/monitor/peer_monitor.py MODEL.onnx RECORDING [THREADS=2] [BATCH=8]
Prints one JSON line: windows, seconds of audio, probabilities' mean (to compare runs).
"""

import json
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "reference"))
import reference_pipeline as ref  # noqa: E402


def main() -> int:
    model, recording = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    info = ref.probe(recording)
    rate, channels = int(info["sample_rate"]), int(info["channels"])
    dec = subprocess.Popen(["ffmpeg", "-v", "error", "-i", recording, "-f", "f32le", "-acodec", "pcm_f32le", "-"],
                           stdout=subprocess.PIPE)
    node_modules = os.path.join(HERE, "..", "onnxruntime", "node_modules")
    ort = subprocess.Popen(["node", os.path.join(HERE, "ort_score.js"), model, str(threads)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, env={**os.environ, "NODE_PATH": node_modules})
    length = int(2 * rate)
    buf = np.zeros((channels, 0), np.float32)
    start_of_buf, i, frames, pending = 0, 0, 0, []
    while True:
        raw = dec.stdout.read(rate * channels * 4)
        if raw:
            x = np.frombuffer(raw, np.float32).reshape(-1, channels).T
            buf = np.concatenate([buf, x], axis=1)
            frames += x.shape[1]
        while True:
            s = int(i * Fraction(1, 2) * rate + Fraction(1, 2))
            if s + length > frames:
                break
            _, images = ref.run(buf[:, s - start_of_buf : s - start_of_buf + length], rate)
            pending.append(images[0])
            i += 1
            if len(pending) == batch:
                ort.stdin.write(np.uint32(batch).tobytes() + np.stack(pending).astype(np.float32).tobytes())
                pending = []
        s = int(i * Fraction(1, 2) * rate + Fraction(1, 2))
        drop = s - start_of_buf
        if drop > 0:
            buf = buf[:, drop:]
            start_of_buf = s
        if not raw:
            break
    if pending:
        ort.stdin.write(np.uint32(len(pending)).tobytes() + np.stack(pending).astype(np.float32).tobytes())
    ort.stdin.close()
    probs = [float(line) for line in ort.stdout.read().decode().split()]
    ort.wait()
    print(json.dumps({"windows": i, "seconds": frames / rate, "scored": len(probs),
                      "mean_probability": float(np.mean(probs)) if probs else None}))
    return 0 if len(probs) == i else 1


if __name__ == "__main__":
    sys.exit(main())
