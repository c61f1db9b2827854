"""Writes the checkpoint fixtures of coughkit's conversion tests (tests/conversion/).

    /usr/bin/python3 tools/reference/make_checkpoints.py --out DIR [--force]

Every checkpoint holds the same random-initialised AttnMILResNet (export_models.build_model:
fixed seed, BatchNorm statistics calibrated so activations stay in range), saved by
torch.save the ways users' files come (docs/pipeline.md section 6):
  * `full.pth`: the training dict with `optimizer_state_dict` (AdamW after one step).
  * `no_optimizer.pth`: the dict without optimizer state (like shared/golden's).
  * `bare_state_dict.pth`: `model.state_dict()` alone.
  * `fp16.pth`, `bf16.pth`: the dict with every float tensor stored as float16 / bfloat16.
  * `views.pth`: tensors that are views: two weights sharing one storage at offsets, a
    transposed (non-contiguous) weight.
  * `legacy.pth`: the dict written with `_use_new_zipfile_serialization=False` (pre-1.6).
  * malicious files (`evil_*`): a `__reduce__` payload calling `posix.system` and one calling
    `exec` (pickled as `__builtin__.exec` by protocol 2), each of which would create DIR/pwned_marker if executed.
  * broken files (`bad_*`): a missing key, a wrong shape, a non-allowlisted but harmless
    global (`datetime.date`).
DIR/manifest.json lists the files, their expected-output set and, per input case, the
model input (`inputs/<case>.x.npy`, (B,S,3,224,224) float32, padded segments zero;
`inputs/<case>.mask.npy`, (B,S) float32 0/1) and PyTorch's four outputs for each weight
set ("fp32", "fp16", "bf16": the model with its weights rounded to that type).
Nothing is rewritten when manifest.json records this script's hash. Fails (non-zero exit)
when torch is missing.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attnmil import OUTPUT_NAMES, images_to_input  # noqa: E402
from fixture_files import sources_digest, write_manifest  # noqa: E402
from export_models import SEED, build_model, synthetic_images  # noqa: E402

MARKER = "pwned_marker"
CONFIG = {"sample_rate": 16000, "n_mels": 160, "dropout": 0.3, "attn_hidden": 128,
          "threshold": 0.55, "highpass_hz": 50.0, "lr": 3e-4, "model": "AttnMILResNet"}
# (name, batch, segments, valid segments per bag)
CASES = [("b1_s1", 1, 1, [1]), ("b1_s3", 1, 3, [3]), ("b2_s4_padded", 2, 4, [4, 2])]


def rounded(model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    r = copy.deepcopy(model)
    with torch.no_grad():
        for t in list(r.parameters()) + list(r.buffers()):
            if t.dtype == torch.float32:
                t.copy_(t.to(dtype).float())
    return r


def cast_state(state: OrderedDict, dtype: torch.dtype) -> OrderedDict:
    out = copy.copy(state)  # keeps the OrderedDict and its _metadata
    for k, v in state.items():
        out[k] = v.to(dtype) if v.is_floating_point() else v
    return out


def view_state(state: OrderedDict) -> OrderedDict:
    """Same values, stored as views: shared storages with offsets, a transposed weight."""
    out = copy.copy(state)
    a, b = state["attn.0.bias"], state["bag_head.0.bias"]
    shared = torch.cat([torch.zeros(7), a.flatten(), b.flatten()])  # offset 7: not at the start
    out["attn.0.bias"] = shared[7:7 + a.numel()].view(a.shape)
    out["bag_head.0.bias"] = shared[7 + a.numel():].view(b.shape)
    w = state["attn.0.weight"]
    out["attn.0.weight"] = w.t().contiguous().t()  # strides (1, 128): column-major
    assert not out["attn.0.weight"].is_contiguous()
    w2 = state["backbone.layer1.0.conv1.weight"]  # channels-last 4-D view
    out["backbone.layer1.0.conv1.weight"] = w2.contiguous(memory_format=torch.channels_last)
    return out


def optimizer_state(model: torch.nn.Module) -> dict:
    """AdamW state after one step on a copy (the saved weights stay the untrained ones)."""
    m = copy.deepcopy(model).train()
    opt = torch.optim.AdamW(m.parameters(), lr=CONFIG["lr"])
    gen = torch.Generator().manual_seed(SEED + 7)
    x = images_to_input(synthetic_images(gen, 4).numpy()).reshape(2, 2, 3, 224, 224)
    prob = m(x, torch.ones(2, 2, dtype=torch.bool))[0]
    torch.nn.functional.binary_cross_entropy(prob, torch.tensor([0.0, 1.0])).backward()
    opt.step()
    return opt.state_dict()


class PosixSystem:
    """Unpickling this runs `touch MARKER` through os.system (pickled as posix.system)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


class BuiltinsExec:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def checkpoint(state: OrderedDict, **extra) -> dict:
    d = {"epoch": 3, "model_state_dict": state, "val_auc": 0.9123, "val_ap": 0.8765, "config": dict(CONFIG)}
    d.update(extra)
    return d


def run_case(model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor) -> dict:
    with torch.no_grad():
        outs = model(x, mask)
    return {name: [float(v) for v in t.reshape(-1).tolist()] for name, t in zip(OUTPUT_NAMES, outs)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
    digest = sources_digest("make_checkpoints.py", "export_models.py", "attnmil.py")
    manifest_path = os.path.join(out, "manifest.json")
    if not args.force and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = json.load(f)
        files = [c["file"] for c in old.get("checkpoints", [])] + [c["file"] for c in old.get("malicious", [])]
        if old.get("script_hash") == digest and all(os.path.exists(os.path.join(out, p)) for p in files):
            print(f"make_checkpoints: {out} is up to date")
            return 0

    model = build_model()
    state = model.state_dict()
    sets = {"fp32": model, "fp16": rounded(model, torch.float16), "bf16": rounded(model, torch.bfloat16)}
    manifest = {"script_hash": digest, "torch": torch.__version__, "seed": SEED, "marker": MARKER,
                "config": CONFIG, "epoch": 3, "val_auc": 0.9123, "val_ap": 0.8765,
                "cases": [], "expected": {k: {} for k in sets}, "checkpoints": [], "malicious": [], "broken": []}

    gen = torch.Generator().manual_seed(SEED + 3)
    for name, batch, segs, valid in CASES:
        images = synthetic_images(gen, batch * segs)
        x = images_to_input(images.numpy()).reshape(batch, segs, 3, 224, 224).contiguous()
        mask = torch.zeros(batch, segs, dtype=torch.bool)
        for b, n in enumerate(valid):
            mask[b, :n] = True
        x[~mask] = 0.0
        np.save(os.path.join(out, "inputs", f"{name}.x.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(out, "inputs", f"{name}.mask.npy"), mask.numpy().astype(np.float32))
        manifest["cases"].append({"name": name, "batch": batch, "segments": segs,
                                  "x": f"inputs/{name}.x.npy", "mask": f"inputs/{name}.mask.npy"})
        for key, m in sets.items():
            manifest["expected"][key][name] = run_case(m, x, mask)

    def save(file: str, obj, expected: str, legacy: bool = False, **info):
        torch.save(obj, os.path.join(out, file), _use_new_zipfile_serialization=not legacy)
        manifest["checkpoints"].append({"file": file, "expected": expected, **info})
        print(f"make_checkpoints: wrote {file}")

    save("full.pth", checkpoint(state, optimizer_state_dict=optimizer_state(model)), "fp32",
         optimizer=True, metadata=True)
    save("no_optimizer.pth", checkpoint(state), "fp32", optimizer=False, metadata=True)
    save("bare_state_dict.pth", state, "fp32", optimizer=False, metadata=False)
    save("fp16.pth", checkpoint(cast_state(state, torch.float16)), "fp16", optimizer=False, metadata=True)
    save("bf16.pth", checkpoint(cast_state(state, torch.bfloat16)), "bf16", optimizer=False, metadata=True)
    save("views.pth", checkpoint(view_state(state)), "fp32", optimizer=False, metadata=True)
    save("legacy.pth", checkpoint(state), "fp32", legacy=True, optimizer=False, metadata=True)

    marker = os.path.join(out, MARKER)
    if os.path.exists(marker):
        os.remove(marker)
    evil = [("evil_posix_system.pth", PosixSystem(marker), "posix.system", False),
            ("evil_exec.pth", BuiltinsExec(marker), "__builtin__.exec", False),
            ("evil_legacy.pth", PosixSystem(marker), "posix.system", True)]
    # A small state dict keeps these files small: the reader must refuse them before any
    # tensor matters.
    tiny = OrderedDict(list(state.items())[:2])
    for file, payload, global_name, legacy in evil:
        torch.save(checkpoint(tiny, config=payload), os.path.join(out, file),
                   _use_new_zipfile_serialization=not legacy)
        manifest["malicious"].append({"file": file, "global": global_name})
    assert not os.path.exists(marker), "saving must not run the payload"

    missing = copy.copy(state)
    del missing["backbone.layer1.0.conv1.weight"]
    wrong = copy.copy(state)
    wrong["seg_head.weight"] = torch.zeros(2, 512)
    broken = [("bad_missing_key.pth", checkpoint(missing), "backbone.layer1.0.conv1.weight"),
              ("bad_shape.pth", checkpoint(wrong), "seg_head.weight"),
              ("bad_global.pth", checkpoint(OrderedDict(list(state.items())[:2]), config={"date": datetime.date(2024, 6, 11)}), "datetime.date"),
              ("bad_no_state.pth", {"epoch": 1, "weights": [1.0, 2.0]}, "model_state_dict")]
    for file, obj, mention in broken:
        torch.save(obj, os.path.join(out, file))
        manifest["broken"].append({"file": file, "mentions": mention})

    write_manifest(manifest_path, manifest)
    print(f"make_checkpoints: wrote {manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
