"""PyTorch's side of the LibTorch model tests (tests/training/): fixtures, and checks of
checkpoints written by coughkit's C++ code.

    /usr/bin/python3 tools/reference/checkpoint_roundtrip.py make --out DIR
    /usr/bin/python3 tools/reference/checkpoint_roundtrip.py check --ckpt FILE --x X.npy --mask M.npy --out R.json

`make` writes, into DIR:
  * `keys.json`: AttnMILResNet().state_dict() as [name, shape, dtype] in its order.
  * `model.pth`: the calibrated random model of export_models.build_model (fixed seed), saved
    with torch.save as a training checkpoint (model_state_dict, epoch, val_auc, val_ap,
    config with a threshold).
  * `x.npy` (2, 3, 3, 224, 224) float32 model input (bag 1 has two real segments, its third
    is zeros) and `mask.npy` (2, 3) float32 0/1; `expected.json`: PyTorch's four outputs.
  * `clip.wav`: 3.5 s of 16 kHz mono noise bursts for command-line tests.
  * `manifest.json` last, recording this script's hash: nothing is rewritten when it matches.
`check` loads FILE with torch.load, strictly into tools/reference/attnmil.py's model, runs it
on X/M in eval mode and writes R.json: the four outputs, the metadata read back, the SHA-256
of each state-dict tensor's bytes, the pickle's globals, and whether torch.load(...,
weights_only=True) accepts the file as it accepts torch.save's own.
Fails (non-zero exit) when torch is missing or anything does not load.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import pickletools
import sys
import wave
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attnmil import OUTPUT_NAMES, AttnMILResNet, images_to_input  # noqa: E402
from fixture_files import sources_digest, write_manifest  # noqa: E402

META = {"epoch": 7, "val_auc": 0.875, "val_ap": 0.8125,
        "config": {"threshold": 0.55, "highpass_hz": 0.0, "dropout": 0.3, "attn_hidden": 128,
                   "model": "AttnMILResNet", "lr": 1e-4}}
VALID = [3, 2]  # real segments per bag of the (2, 3) test batch


def outputs(model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor) -> dict:
    with torch.no_grad():
        outs = model.eval()(x, mask)
    return {name: [float(v) for v in t.reshape(-1).tolist()] for name, t in zip(OUTPUT_NAMES, outs)}


def write_wav(path: str, seconds: float = 3.5, rate: int = 16000) -> None:
    rng = np.random.default_rng(7)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    envelope = (np.sin(2 * np.pi * 1.3 * t) > 0.6).astype(np.float64)  # bursts
    signal = 0.3 * envelope * rng.standard_normal(n) + 0.05 * np.sin(2 * np.pi * 440 * t)
    pcm = np.clip(signal * 32767, -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def make(out: str) -> int:
    os.makedirs(out, exist_ok=True)
    manifest_path = os.path.join(out, "manifest.json")
    digest = sources_digest("checkpoint_roundtrip.py", "export_models.py", "attnmil.py")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            if json.load(f).get("script_hash") == digest:
                print(f"{out}: up to date")
                return 0
    from export_models import SEED, build_model, synthetic_images  # onnx is imported there

    with open(os.path.join(out, "keys.json"), "w") as f:
        json.dump([[k, list(v.shape), str(v.dtype).replace("torch.", "")]
                   for k, v in AttnMILResNet().state_dict().items()], f)

    model = build_model()
    torch.save({"model_state_dict": model.state_dict(), **META}, os.path.join(out, "model.pth"))

    gen = torch.Generator().manual_seed(SEED + 1)
    b, s = len(VALID), max(VALID)
    x = images_to_input(synthetic_images(gen, b * s).numpy()).reshape(b, s, 3, 224, 224).clone()
    mask = torch.zeros(b, s, dtype=torch.bool)
    for i, n in enumerate(VALID):
        mask[i, :n] = True
        x[i, n:] = 0.0  # padded segments are zeros (docs/pipeline.md section 5)
    np.save(os.path.join(out, "x.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(out, "mask.npy"), mask.numpy().astype(np.float32))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(outputs(model, x, mask), f)
    write_wav(os.path.join(out, "clip.wav"))
    write_manifest(manifest_path, {"script_hash": digest, "torch": torch.__version__, "meta": META, "valid": VALID})
    print(f"{out}: written")
    return 0


def check(ckpt_path: str, x_path: str, mask_path: str, out: str) -> int:
    ckpt = torch.load(ckpt_path, map_location="cpu")
    model = AttnMILResNet()
    model.load_state_dict(ckpt["model_state_dict"], strict=True)
    # The restricted unpickler (weights_only=True, the default from torch 2.6) must accept it
    # as it accepts torch.save's own files: torch 1.13's refuses any float (BINFLOAT), so the
    # file is compared with Python's own save of the same content.
    try:
        safe = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        same = all(torch.equal(safe["model_state_dict"][k], v) for k, v in ckpt["model_state_dict"].items())
        weights_only = "ok" if same else "fails: other tensors"
    except Exception as e:  # noqa: BLE001
        own = io.BytesIO()
        torch.save(ckpt, own)
        own.seek(0)
        try:
            torch.load(own, map_location="cpu", weights_only=True)
            weights_only = f"fails: {e}"
        except Exception as e_own:  # noqa: BLE001
            weights_only = "ok" if str(e_own) == str(e) else f"fails: {e}"
    with zipfile.ZipFile(ckpt_path) as z:
        pkl = next(n for n in z.namelist() if n.endswith("/data.pkl"))
        globals_ = sorted({arg.replace(" ", ".") for op, arg, _ in pickletools.genops(z.read(pkl))
                           if op.name in ("GLOBAL", "STACK_GLOBAL")})
    x = torch.from_numpy(np.load(x_path))
    mask = torch.from_numpy(np.load(mask_path)) != 0
    result = {
        "outputs": outputs(model, x, mask),
        "keys": list(ckpt["model_state_dict"].keys()),
        "sha256": {k: hashlib.sha256(v.contiguous().numpy().tobytes()).hexdigest()
                   for k, v in ckpt["model_state_dict"].items()},
        "dtypes": {k: str(v.dtype).replace("torch.", "") for k, v in ckpt["model_state_dict"].items()},
        "weights_only": weights_only,
        "globals": globals_,
        "epoch": ckpt["epoch"], "val_auc": ckpt["val_auc"], "val_ap": ckpt["val_ap"], "config": ckpt["config"],
        "top_level_type": type(ckpt).__name__,
    }
    with open(out, "w") as f:
        json.dump(result, f)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    c = sub.add_parser("check")
    c.add_argument("--ckpt", required=True)
    c.add_argument("--x", required=True)
    c.add_argument("--mask", required=True)
    c.add_argument("--out", required=True)
    a = p.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    if a.cmd == "make":
        return make(a.out)
    return check(a.ckpt, a.x, a.mask, a.out)


if __name__ == "__main__":
    sys.exit(main())
