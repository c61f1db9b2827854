#!/usr/bin/env python3
"""Load benchmark of `coughkit serve` against the reference Flask API's PyTorch backend
(bench/server/reference_flask_app.py), in the same run, on loopback ports, with wrk.

    python3 bench/server/load_bench.py --onnx MODEL.onnx --pth MODEL.pth [--duration 20]
        [--connections 4] [--threads 2] [--coughkit build/bin/coughkit]

MODEL.onnx and MODEL.pth must hold the same weights (e.g. shared/golden's
attnmil_ref_opset14.onnx and attnmil_ref.pth). Both servers get the same CPU budget
(`--threads` compute threads). Clips: 2-s and 10-s WebM/Opus (48 kHz mono, what a browser
records), synthesised with ffmpeg. Each (server, clip) pair is loaded by wrk with
`--connections` keep-alive connections posting the clip to /api/detect-cough for
`--duration` seconds, after a warm-up. Prints one JSON object: requests/s, p50/p99 latency
(ms), request and error counts per pair, and coughkit's speed-up over Flask.
Needs: wrk, ffmpeg, /usr/bin/python3 with flask + torch + torchaudio (Debian packages).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if json.load(r).get("model_loaded"):
                    return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready")


def make_clip(out: str, seconds: float) -> None:
    # Pink noise with a few short bursts: deterministic (fixed seed), encoded as a browser would.
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"anoisesrc=d={seconds}:c=pink:a=0.05:seed=7:r=48000",
                    "-f", "lavfi", "-i", f"sine=f=300:d={seconds}:r=48000",
                    "-filter_complex", "[1]volume='if(lt(mod(t,1.3),0.25),0.6,0)':eval=frame[b];[0][b]amix=inputs=2",
                    "-ac", "1", "-c:a", "libopus", "-b:a", "48k", out], check=True)


def detect_once(url: str, clip: str) -> dict:
    boundary = "----coughkitbenchonce"
    with open(clip, "rb") as f:
        data = f.read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"{os.path.basename(clip)}\"\r\n"
            f"Content-Type: audio/webm\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url + "/api/detect-cough", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)


def to_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    v, unit = float(m.group(1)), m.group(2)
    return {"us": v / 1000, "ms": v, "s": v * 1000, "m": v * 60000}[unit]


def run_wrk(url: str, clip: str, duration: int, connections: int) -> dict:
    env = dict(os.environ, BENCH_AUDIO=clip)
    cmd = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{duration}s", "--timeout", "120s",
           "--latency", "-s", os.path.join(HERE, "post_audio.lua"), url + "/api/detect-cough"]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    res = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
           "requests": int(re.search(r"(\d+) requests in", out).group(1))}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        res[f"p{pct}_ms"] = round(to_ms(m.group(1)), 1) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(g) for g in m.groups())
    res["errors"] = errors
    res["requests_per_s"] = round(res["requests_per_s"], 2)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--pth", required=True)
    ap.add_argument("--coughkit", default=os.path.join(ROOT, "build", "bin", "coughkit"))
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--python", default="/usr/bin/python3", help="Python with flask and torch")
    args = ap.parse_args()
    for tool in ("wrk", "ffmpeg"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found (Debian package {tool})")

    tmp = tempfile.mkdtemp(prefix="coughkit-load-")
    clips = {"2s": os.path.join(tmp, "clip_2s.webm"), "10s": os.path.join(tmp, "clip_10s.webm")}
    make_clip(clips["2s"], 2.0)
    make_clip(clips["10s"], 10.0)

    ck_port, fl_port = free_port(), free_port()
    ck_url, fl_url = f"http://127.0.0.1:{ck_port}", f"http://127.0.0.1:{fl_port}"
    ck_log, fl_log = open(os.path.join(tmp, "coughkit.log"), "w"), open(os.path.join(tmp, "flask.log"), "w")
    ck = subprocess.Popen([args.coughkit, "--log-level", "warn", "serve", "--model", args.onnx, "--host", "127.0.0.1",
                           "--port", str(ck_port), "--threads", str(args.threads), "--workers", str(args.threads)],
                          stdout=ck_log, stderr=subprocess.STDOUT)
    fl = subprocess.Popen([args.python, os.path.join(HERE, "reference_flask_app.py"), args.pth, "--host", "127.0.0.1",
                           "--port", str(fl_port), "--threads", str(args.threads)], stdout=fl_log, stderr=subprocess.STDOUT)
    results = []
    try:
        wait_ready(ck_url, ck)
        wait_ready(fl_url, fl)
        agreement = {}
        for name, clip in clips.items():
            a, b = detect_once(ck_url, clip), detect_once(fl_url, clip)
            agreement[name] = {"coughkit_confidence": a["confidence"], "flask_confidence": b["confidence"],
                               "num_segments": [a["num_segments"], b["num_segments"]]}
        for name, clip in clips.items():
            for server, url in (("coughkit", ck_url), ("flask_pytorch", fl_url)):
                run_wrk(url, clip, 3, args.connections)  # warm-up
                r = run_wrk(url, clip, args.duration, args.connections)
                r.update({"server": server, "clip": name})
                results.append(r)
                print(json.dumps(r), file=sys.stderr)
    finally:
        for p in (ck, fl):
            p.send_signal(signal.SIGTERM)
        for p in (ck, fl):
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
    by = {(r["server"], r["clip"]): r for r in results}
    summary = {
        "cpus": os.cpu_count(), "compute_threads": args.threads, "connections": args.connections,
        "duration_s": args.duration, "clips": "WebM/Opus 48 kHz mono, POST /api/detect-cough",
        "results": results,
        "speedup_requests_per_s": {c: round(by[("coughkit", c)]["requests_per_s"] /
                                            max(by[("flask_pytorch", c)]["requests_per_s"], 1e-9), 2) for c in clips},
        "agreement": agreement,
        "coughkit_exit_code": ck.returncode, "flask_exit_code": fl.returncode,
    }
    print(json.dumps(summary, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
