"""A minimal Flask app mirroring the reference cough API, with its PyTorch backend: the
peer of `coughkit serve` in bench/server/load_bench.py.

    /usr/bin/python3 bench/server/reference_flask_app.py CHECKPOINT.pth [--port 5000] [--threads 2]

Same routes and shapes as the reference (POST /api/detect-cough with multipart `audio` and
optional `threshold`, GET /health), the model from tools/reference/attnmil.py loaded from a
checkpoint, preprocessing from tools/reference/reference_pipeline.py (torchaudio). Like the
reference it writes the upload to a file to decode it (a temporary one, removed afterwards)
and serves with Flask's threaded development server. Needs Debian's python3-flask and
python3-torch/-torchaudio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
import torch
from flask import Flask, jsonify, request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "reference"))
from attnmil import images_to_input, load_checkpoint  # noqa: E402
import reference_pipeline  # noqa: E402

app = Flask(__name__)
MODEL = None
MODEL_FILE = ""
VAL_AUC = None


@app.route("/health", methods=["GET"])
def health():
    return jsonify({"status": "healthy", "model_loaded": MODEL is not None, "model_type": "AttnMILResNet",
                    "validation_auc": VAL_AUC})


@app.route("/api/detect-cough", methods=["POST"])
def detect_cough():
    if "audio" not in request.files:
        return jsonify({"error": "No audio file provided"}), 400
    upload = request.files["audio"]
    threshold = float(request.form.get("threshold", request.args.get("threshold", 0.61)))
    suffix = os.path.splitext(upload.filename or "")[1] or ".webm"
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    try:
        upload.save(path)
        x, sr, _ = reference_pipeline.decode(path)
        _, images = reference_pipeline.run(x, sr)
        inp = images_to_input(images).unsqueeze(0)
        mask = torch.ones(1, inp.shape[1], dtype=torch.bool)
        with torch.no_grad():
            bag_p, seg_p, _, _ = MODEL(inp, mask)
    except Exception as e:  # the reference answered 500 with the message
        return jsonify({"error": str(e)}), 500
    finally:
        os.unlink(path)
    p = float(bag_p[0])
    segs = [float(v) for v in seg_p[0]]
    detected = p > threshold
    body = {
        "coughDetected": detected,
        "confidence": p,
        "file_probability": p,
        "segment_probabilities": segs,
        "segment_timestamps": [[0.5 * i, 0.5 * i + 2.0] for i in range(len(segs))],
        "num_segments": len(segs),
        "threshold_used": threshold,
        "max_segment_probability": max(segs),
        "mean_segment_probability": float(np.mean(segs)),
        "message": "Cough detected" if detected else "No cough detected",
        "model_info": {"model_file": MODEL_FILE, "model_type": "AttnMILResNet", "validation_auc": VAL_AUC},
    }
    if not detected:
        body["error"] = "No cough pattern detected by model"
    return jsonify(body)


def main() -> None:
    global MODEL, MODEL_FILE, VAL_AUC
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    MODEL = load_checkpoint(args.checkpoint)
    MODEL_FILE = os.path.basename(args.checkpoint)
    ckpt = torch.load(args.checkpoint, map_location="cpu")
    VAL_AUC = float(ckpt["val_auc"]) if isinstance(ckpt, dict) and "val_auc" in ckpt else None
    app.run(host=args.host, port=args.port, debug=False, threaded=True)


if __name__ == "__main__":
    main()
