"""Soak and abuse test of `coughkit serve` on loopback (bench/README.md, "Server soak").

    /usr/bin/python3 bench/soak/soak.py [--minutes 30] [--build build] [--model M] [--out DIR]

Starts the real server, then for --minutes runs mixed traffic from several client threads:
short detections (three clips, each answer checked against the clip's first answer),
monitor jobs on a 5-minute recording (created, polled to the end, report checked; some
cancelled), malformed requests (bad request lines, broken multipart, wrong media, huge
headers), slow clients (a header byte every second), abandoned uploads (connection closed
mid-body) and bursts of concurrent detections over the queue limit. Every 10 s it samples the
server's RSS, open file descriptors and threads (/proc) and the p50/p99 latency of the
detections answered in that interval.

Writes DIR/samples.csv, DIR/summary.json and DIR/soak.svg (RSS, descriptors, threads and p99
over time), and prints the summary. Exit status 1 when a goal is missed: RSS or descriptors
growing after warm-up (last third vs the second third of the run, > 10 % and > 8 MiB for
RSS, > 8 descriptors), a 5xx other than 503/504, or a well-formed request answered wrongly.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
BOUNDARY = "soakboundary7d1c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_wav(path: str, seconds: float, rate: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    bursts = (np.mod(t, 1.7) < 0.25) * rng.normal(0, 0.5, t.size)
    x = 0.2 * np.sin(2 * np.pi * (220 + 40 * seed) * t) + bursts + rng.normal(0, 0.01, t.size)
    pcm = (np.clip(x, -1, 1) * 32000).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def multipart(data: bytes, name: str = "clip.wav") -> tuple[bytes, str]:
    body = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.latencies: list[float] = []  # detections answered 200 since the last sample
        self.errors: list[str] = []

    def count(self, key: str) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def latency(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def error(self, what: str) -> None:
        with self.lock:
            self.counts["wrong"] = self.counts.get("wrong", 0) + 1
            if len(self.errors) < 50:
                self.errors.append(what)

    def take_latencies(self) -> list[float]:
        with self.lock:
            out, self.latencies = self.latencies, []
            return out


class Soak:
    def __init__(self, port: int, clips: list[bytes], recording: bytes, stats: Stats, stop: threading.Event):
        self.port, self.clips, self.recording, self.stats, self.stop = port, clips, recording, stats, stop
        self.expected: dict[int, float] = {}
        self.expected_lock = threading.Lock()

    def request(self, method: str, path: str, body: bytes | None = None, ctype: str | None = None,
                timeout: float = 120) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Content-Type": ctype} if ctype else {}
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def check_status(self, what: str, status: int, body: bytes) -> None:
        self.stats.count(f"status_{status}")
        if status >= 500 and status not in (503, 504):
            self.stats.error(f"{what}: {status} {body[:200]!r}")

    # -- traffic kinds ---------------------------------------------------------------------
    def detect(self) -> None:
        k = random.randrange(len(self.clips))
        body, ctype = multipart(self.clips[k])
        t0 = time.monotonic()
        try:
            status, data = self.request("POST", "/v1/detect", body, ctype)
        except OSError as e:
            self.stats.error(f"detect: no answer ({e})")
            return
        self.check_status("detect", status, data)
        if status != 200:
            return
        self.stats.latency(time.monotonic() - t0)
        p = json.loads(data)["bag_probability"]
        with self.expected_lock:
            want = self.expected.setdefault(k, p)
        if abs(p - want) > 1e-5:  # batching may move the last float bits, never more
            self.stats.error(f"detect clip {k}: bag_probability {p}, first answer {want}")
        self.stats.count("detect_ok")

    def monitor_job(self) -> None:
        body, ctype = multipart(self.recording, "recording.wav")
        status, data = self.request("POST", "/v1/monitor?hop_seconds=1", body, ctype)
        self.check_status("monitor", status, data)
        if status != 202:
            return
        job = json.loads(data)["id"]
        if random.random() < 0.25:
            status, data = self.request("DELETE", f"/v1/jobs/{job}")
            self.check_status("cancel", status, data)
            self.stats.count("job_cancelled" if status == 200 else f"cancel_{status}")
            return
        deadline = time.monotonic() + 600
        while not self.stop.is_set() and time.monotonic() < deadline:
            status, data = self.request("GET", f"/v1/jobs/{job}")
            self.check_status("job", status, data)
            j = json.loads(data) if status == 200 else {}
            if j.get("state") == "done":
                report = j.get("report", {})
                if abs(report.get("duration_s", 0) - 300) > 0.01 or "events" not in report:
                    self.stats.error(f"job {job}: report without the recording's 300 s or its events")
                self.stats.count("job_done")
                return
            if j.get("state") == "failed" or status != 200:
                self.stats.error(f"job {job}: {status} {data[:200]!r}")
                return
            time.sleep(1)

    def malformed(self) -> None:
        cases = [
            b"GARBAGE\r\n\r\n",
            b"GET /health HTTP/9.9\r\n\r\n",
            b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=zz\r\n"
            b"Content-Length: 20\r\n\r\n--zz\r\nbroken-----",
            b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
            b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX: " + b"b" * 70000 + b"\r\n\r\n",
            b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n",
            b"DELETE /v1/jobs/../../etc HTTP/1.1\r\nHost: x\r\n\r\n",
        ]
        req = random.choice(cases)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                s.sendall(req)
                s.shutdown(socket.SHUT_WR)
                reply = b""
                while chunk := s.recv(65536):
                    reply += chunk
        except OSError:
            reply = b""  # a reset is an acceptable answer to garbage
        if reply.startswith(b"HTTP/1."):
            self.check_status("malformed", int(reply[9:12]), reply)
        self.stats.count("malformed")

    def slow_client(self) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=60) as s:
                for b in b"GET /health HTTP/1.1\r\nHost: slow\r\nX-Slow: 1\r\n":
                    if self.stop.is_set():
                        return
                    s.sendall(bytes([b]))
                    time.sleep(1.0)
        except OSError:
            pass  # closed by the header deadline: what should happen
        self.stats.count("slow_client")

    def abandoned_upload(self) -> None:
        body, ctype = multipart(self.clips[0])
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                s.sendall(f"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body[: len(body) // 3])
                time.sleep(random.uniform(0, 2))
        except OSError:
            pass
        self.stats.count("abandoned")

    def burst(self) -> None:
        threads = [threading.Thread(target=self.detect) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.stats.count("burst")

    def client(self, kinds: list[tuple[str, float]]) -> None:
        names, weights = zip(*kinds)
        while not self.stop.is_set():
            getattr(self, random.choices(names, weights)[0])()


def proc_sample(pid: int) -> dict:
    rss_kib = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kib = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return {"rss_mib": rss_kib / 1024, "fds": len(os.listdir(f"/proc/{pid}/fd")), "threads": threads}


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def plot(samples: list[dict], path: str) -> None:
    """Four stacked line charts over time: a small SVG, no plotting library."""
    series = [("rss_mib", "RSS (MiB)"), ("fds", "open descriptors"), ("threads", "threads"),
              ("p99_ms", "detection p99 (ms)")]
    w, h, left, top, gap = 760, 130, 70, 30, 40
    total_h = top + len(series) * (h + gap)
    t_max = max(s["t_s"] for s in samples) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + left + 20}" height="{total_h}" '
           'font-family="sans-serif" font-size="12">',
           f'<text x="{left}" y="18" font-size="14">coughkit serve soak: {t_max / 60:.0f} min of mixed traffic</text>']
    for i, (key, label) in enumerate(series):
        y0 = top + i * (h + gap)
        vals = [(s["t_s"], s[key]) for s in samples if s.get(key) is not None]
        v_max = max([v for _, v in vals] + [1]) * 1.1
        out.append(f'<rect x="{left}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
        out.append(f'<text x="{left}" y="{y0 - 5}">{label}</text>')
        out.append(f'<text x="{left - 5}" y="{y0 + 10}" text-anchor="end">{v_max:.0f}</text>')
        out.append(f'<text x="{left - 5}" y="{y0 + h}" text-anchor="end">0</text>')
        pts = " ".join(f"{left + w * t / t_max:.1f},{y0 + h - h * v / v_max:.1f}" for t, v in vals)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
    out.append(f'<text x="{left + w}" y="{total_h - 10}" text-anchor="end">time (min), 0 to {t_max / 60:.0f}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "coughkit_default.onnx"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "soak"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    random.seed(20261203)

    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        for k, seconds in enumerate((2.0, 5.0, 9.5)):
            p = os.path.join(tmp, f"clip{k}.wav")
            write_wav(p, seconds, 16000, k)
            clips.append(open(p, "rb").read())
        rec = os.path.join(tmp, "recording.wav")
        write_wav(rec, 300.0, 8000, 7)
        recording = open(rec, "rb").read()

    port = free_port()
    log = open(os.path.join(args.out, "server.log"), "w")
    server = subprocess.Popen([os.path.join(args.build, "bin", "coughkit"), "serve", "--host", "127.0.0.1",
                               "--port", str(port), "--model", args.model, "--workers", str(args.workers),
                               "--queue-limit", "8", "--max-jobs", "4", "--job-ttl", "60",
                               "--header-timeout", "5"], stdout=log, stderr=subprocess.STDOUT)
    stats, stop = Stats(), threading.Event()
    soak = Soak(port, clips, recording, stats, stop)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if soak.request("GET", "/health", timeout=2)[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.5)
    else:
        print("the server did not become ready; see", os.path.join(args.out, "server.log"))
        server.kill()
        return 1

    mixes = [
        [("detect", 1.0)], [("detect", 1.0)], [("detect", 0.7), ("malformed", 0.3)],
        [("monitor_job", 1.0)], [("malformed", 0.5), ("abandoned_upload", 0.5)],
        [("slow_client", 1.0)], [("slow_client", 1.0)], [("burst", 0.05), ("detect", 0.95)],
    ]
    threads = [threading.Thread(target=soak.client, args=(m,), daemon=True) for m in mixes]
    t_start = time.monotonic()
    for t in threads:
        t.start()
    samples = []
    end = t_start + args.minutes * 60
    while time.monotonic() < end and server.poll() is None:
        time.sleep(10)
        lat = stats.take_latencies()
        s = {"t_s": round(time.monotonic() - t_start, 1), **proc_sample(server.pid),
             "detections": len(lat), "p50_ms": None, "p99_ms": None}
        if lat:
            s["p50_ms"] = round(1000 * percentile(lat, 0.5), 1)
            s["p99_ms"] = round(1000 * percentile(lat, 0.99), 1)
        samples.append(s)
        print(json.dumps(s), flush=True)
    stop.set()
    crashed = server.poll() is not None
    for t in threads:
        t.join(timeout=90)
    server.terminate()
    server.wait(timeout=120)

    with open(os.path.join(args.out, "samples.csv"), "w") as f:
        keys = ["t_s", "rss_mib", "fds", "threads", "detections", "p50_ms", "p99_ms"]
        f.write(",".join(keys) + "\n")
        for s in samples:
            f.write(",".join("" if s[k] is None else str(s[k]) for k in keys) + "\n")
    plot(samples, os.path.join(args.out, "soak.svg"))

    third = max(1, len(samples) // 3)
    mid, last = samples[third:2 * third], samples[2 * third:]
    def med(rows, key):
        return statistics.median(r[key] for r in rows) if rows else 0
    p99s = [s["p99_ms"] for s in samples if s["p99_ms"] is not None]
    summary = {
        "minutes": args.minutes, "samples": len(samples), "server_crashed": crashed,
        "rss_mib_middle_third": round(med(mid, "rss_mib"), 1), "rss_mib_last_third": round(med(last, "rss_mib"), 1),
        "rss_mib_max": round(max(s["rss_mib"] for s in samples), 1),
        "fds_middle_third": med(mid, "fds"), "fds_last_third": med(last, "fds"),
        "fds_max": max(s["fds"] for s in samples),
        "threads_max": max(s["threads"] for s in samples),
        "p99_ms_median": statistics.median(p99s) if p99s else None, "p99_ms_max": max(p99s) if p99s else None,
        "counts": stats.counts, "wrong_answers": stats.errors,
    }
    rss_growth = summary["rss_mib_last_third"] - summary["rss_mib_middle_third"]
    goals = {
        "rss_flat": not (rss_growth > 8 and rss_growth > 0.1 * summary["rss_mib_middle_third"]),
        "fds_flat": summary["fds_last_third"] - summary["fds_middle_third"] <= 8,
        "no_unexpected_5xx_or_wrong_answer": stats.counts.get("wrong", 0) == 0,
        "server_alive": not crashed,
    }
    summary["goals"] = goals
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
