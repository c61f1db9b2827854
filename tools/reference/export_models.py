"""Writes the model fixtures of coughkit's inference-engine tests (tests/model/).

    /usr/bin/python3 tools/reference/export_models.py --out DIR [--force]

DIR/manifest.json describes everything written:
  * `models`: a random-initialised AttnMILResNet (fixed seed, BatchNorm statistics
    calibrated on synthetic images so activations stay in range, affine parameters
    perturbed so no BatchNorm is an identity) exported by torch.onnx.export in the ways
    users' files come: opsets 11/13/14/17, with and without constant folding, with the
    exporter's Conv+BatchNorm fusion (TrainingMode.EVAL) and without it (PRESERVE), and an
    fp16-weight variant (every float initializer stored as float16 behind a Cast node).
    Each entry names the expected-output set it must reproduce (`expected`).
  * `cases`: inputs as (B, S, 224, 224) mel images in [-1, 1] (`images`) and a (B, S)
    float mask (`mask`); padded segments are all-zero *model input* (docs/pipeline.md section 5)
    and are written as NaN images so a reader cannot mistake them for data.
  * `expected`: per set ("fp32", "fp16_rounded") and case, the four outputs computed by
    PyTorch eager. "fp16_rounded" is the same model with every weight rounded to float16,
    i.e. exactly what the fp16-weight file holds.
  * `bad_models`: small ONNX files for error-path tests (another network, wrong input
    names, wrong ranks, an unsupported op, an unsupported attribute value).
Nothing is rewritten when manifest.json already records this script's hash (and that of
attnmil.py) and every file is present. Fails (non-zero exit) when torch/onnx are missing.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attnmil import INPUT_NAMES, OUTPUT_NAMES, AttnMILResNet, images_to_input  # noqa: E402
from fixture_files import sources_digest, write_manifest  # noqa: E402

SEED = 20240611
DYNAMIC_AXES = {
    "spectrograms": {0: "batch_size", 1: "num_segments"},
    "segment_mask": {0: "batch_size", 1: "num_segments"},
    "bag_probability": {0: "batch_size"},
    "segment_probabilities": {0: "batch_size", 1: "num_segments"},
    "segment_logits": {0: "batch_size", 1: "num_segments"},
    "bag_logit": {0: "batch_size"},
}
# (file, opset, do_constant_folding, exporter BN fusion, fp16 weights). A few variants only:
# each fp32 file is ~46 MB. Together they cover every opset form of the ops the graph uses
# (attribute vs input axes at 11 vs 13+, Reshape allowzero and BN training_mode at 14+).
MODELS = [
    ("attnmil_op11.onnx", 11, True, True, False),
    ("attnmil_op13_nofold.onnx", 13, False, True, False),
    ("attnmil_op14_bn.onnx", 14, True, False, False),
    ("attnmil_op17_nofold_bn.onnx", 17, False, False, False),
    ("attnmil_op14_fp16.onnx", 14, False, False, True),
]
# (name, batch, segments, valid segments per bag)
CASES = [
    ("b1_s1", 1, 1, [1]),
    ("b1_s2", 1, 2, [2]),
    ("b1_s17", 1, 17, [17]),
    ("b1_s32", 1, 32, [32]),
    ("b3_s4_padded", 3, 4, [4, 2, 1]),
]


def synthetic_images(gen: torch.Generator, n: int) -> torch.Tensor:
    """(n, 224, 224) mel-like images: smooth blobs plus noise, letterbox rows at -1."""
    coarse = torch.rand(n, 1, 20, 28, generator=gen) * 2 - 1
    img = torch.nn.functional.interpolate(coarse, size=(178, 224), mode="bilinear", align_corners=False)
    img = (img + 0.1 * torch.randn(n, 1, 178, 224, generator=gen)).clamp(-1, 1)
    out = torch.full((n, 224, 224), -1.0)
    out[:, 23:201, :] = img[:, 0]
    return out


def build_model() -> AttnMILResNet:
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    model = AttnMILResNet()
    # Calibrate BN statistics with a cumulative average over synthetic inputs.
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        # 16 bags of 2 segments: enough bags that BatchNorm1d's variance is not tiny.
        for _ in range(2):
            imgs = synthetic_images(gen, 32)
            x = images_to_input(imgs.numpy()).reshape(16, 2, 3, 224, 224)
            model(x, torch.ones(16, 2, dtype=torch.bool))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.mul_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.add_(0.1 * torch.randn(m.bias.shape, generator=gen))
                m.momentum = 0.1
    return model.eval()


def rounded_to_fp16(model: nn.Module) -> nn.Module:
    r = copy.deepcopy(model)
    with torch.no_grad():
        for t in list(r.parameters()) + list(r.buffers()):
            if t.dtype == torch.float32:
                t.copy_(t.half().float())
    return r


def export(model: nn.Module, opset: int, fold: bool, fuse_bn: bool, names=(INPUT_NAMES, OUTPUT_NAMES),
           args=None) -> onnx.ModelProto:
    if args is None:
        args = (torch.zeros(1, 2, 3, 224, 224), torch.ones(1, 2, dtype=torch.bool))
    f = io.BytesIO()
    mode = torch.onnx.TrainingMode.EVAL if fuse_bn else torch.onnx.TrainingMode.PRESERVE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, f, opset_version=opset, do_constant_folding=fold,
                          input_names=list(names[0]), output_names=list(names[1]),
                          dynamic_axes={k: v for k, v in DYNAMIC_AXES.items()
                                        if k in names[0] or k in names[1]},
                          training=mode)
    return onnx.load_from_string(f.getvalue())


def to_fp16_weights(m: onnx.ModelProto) -> onnx.ModelProto:
    """Stores every float initializer as float16 and restores float32 with a Cast node."""
    casts = []
    for init in m.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        arr = numpy_helper.to_array(init)
        half = arr.astype(np.float16)
        assert np.array_equal(half.astype(np.float32), arr), f"{init.name} is not fp16-exact"
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], name=f"Cast_{name}_to_fp32",
                                      to=onnx.TensorProto.FLOAT))
    nodes = casts + list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    onnx.checker.check_model(m)
    return m


def run_case(model: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> dict:
    with torch.no_grad():
        outs = model(x, mask)
    return {name: [float(v) for v in t.reshape(-1).tolist()] for name, t in zip(OUTPUT_NAMES, outs)}


class TinyMIL(nn.Module):
    """The AttnMILResNet signature on a toy network: a cheap file for error-path tests."""

    def __init__(self, act: nn.Module, pool: nn.Module):
        super().__init__()
        self.act, self.pool = act, pool
        self.lin = nn.Linear(3, 1)

    def forward(self, spectrograms, segment_mask):
        b, s = spectrograms.shape[0], spectrograms.shape[1]
        x = self.pool(spectrograms.reshape(b * s, 3, 224, 224)).mean(dim=(2, 3))
        seg = self.lin(self.act(x)).reshape(b, s)
        bag = torch.where(segment_mask, seg, torch.zeros_like(seg)).sum(dim=1)
        return torch.sigmoid(bag), torch.sigmoid(seg), seg, bag


def bad_models(out: str) -> dict:
    torch.manual_seed(SEED)
    files = {}
    mlp = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    f = io.BytesIO()
    torch.onnx.export(mlp, (torch.zeros(1, 16),), f, opset_version=14, input_names=["x"], output_names=["y"])
    files["other_network"] = ("tiny_mlp.onnx", onnx.load_from_string(f.getvalue()))
    tiny = TinyMIL(nn.ReLU(), nn.MaxPool2d(2)).eval()
    files["tiny_valid"] = ("tiny_mil.onnx", export(tiny, 14, True, True))
    files["wrong_input_names"] = ("wrong_input_names.onnx",
                                  export(tiny, 14, True, True, names=(["images", "mask"], OUTPUT_NAMES)))
    files["unsupported_op"] = ("unsupported_op_erf.onnx", export(TinyMIL(nn.GELU(), nn.MaxPool2d(2)).eval(),
                                                                 14, True, True))
    files["unsupported_attribute"] = ("unsupported_attr_ceil_mode.onnx",
                                      export(TinyMIL(nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)).eval(),
                                             14, True, True))
    # Wrong ranks: a valid graph whose spectrograms input is 4-D and mask 1-D.
    m = export(tiny, 14, True, True)
    for inp, rank in (("spectrograms", 4), ("segment_mask", 1)):
        t = next(i for i in m.graph.input if i.name == inp).type.tensor_type
        del t.shape.dim[rank:]
    files["wrong_ranks"] = ("wrong_ranks.onnx", m)
    result = {}
    for key, (name, model) in files.items():
        onnx.save(model, os.path.join(out, name))
        result[key] = name
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    out = args.out
    os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
    digest = sources_digest("export_models.py", "attnmil.py")
    manifest_path = os.path.join(out, "manifest.json")
    if not args.force and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = json.load(f)
        paths = [m["file"] for m in old.get("models", [])] + list(old.get("bad_models", {}).values())
        paths += [c[k] for c in old.get("cases", []) for k in ("images", "mask")]
        if old.get("script_hash") == digest and all(os.path.exists(os.path.join(out, p)) for p in paths):
            print(f"export_models: {out} is up to date")
            return 0

    model = build_model()
    model_r = rounded_to_fp16(model)
    gen = torch.Generator().manual_seed(SEED + 1)
    manifest = {"script_hash": digest, "torch": torch.__version__, "seed": SEED,
                "models": [], "cases": [], "expected": {"fp32": {}, "fp16_rounded": {}}}
    for name, batch, segs, valid in CASES:
        images = synthetic_images(gen, batch * segs).reshape(batch, segs, 224, 224)
        mask = torch.zeros(batch, segs, dtype=torch.bool)
        for b, n in enumerate(valid):
            mask[b, :n] = True
        x = images_to_input(images.reshape(-1, 224, 224).numpy()).reshape(batch, segs, 3, 224, 224)
        x[~mask] = 0.0
        images[~mask] = float("nan")
        np.save(os.path.join(out, "inputs", f"{name}.images.npy"), images.numpy().astype(np.float32))
        np.save(os.path.join(out, "inputs", f"{name}.mask.npy"), mask.numpy().astype(np.float32))
        manifest["cases"].append({"name": name, "batch": batch, "segments": segs,
                                  "images": f"inputs/{name}.images.npy", "mask": f"inputs/{name}.mask.npy"})
        manifest["expected"]["fp32"][name] = run_case(model, x, mask)
        manifest["expected"]["fp16_rounded"][name] = run_case(model_r, x, mask)

    for file, opset, fold, fuse_bn, fp16 in MODELS:
        m = export(model_r if fp16 else model, opset, fold, fuse_bn)
        if fp16:
            m = to_fp16_weights(m)
        m.metadata_props.add(key="coughkit.fixture", value=file)
        onnx.save(m, os.path.join(out, file))
        manifest["models"].append({"file": file, "opset": opset, "constant_folding": fold,
                                   "exporter_bn_fusion": fuse_bn, "fp16_weights": fp16,
                                   "expected": "fp16_rounded" if fp16 else "fp32"})
        print(f"export_models: wrote {file}")
    manifest["bad_models"] = bad_models(out)
    write_manifest(manifest_path, manifest)
    print(f"export_models: wrote {manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
