"""Writes dynamically quantised ONNX files the way ONNX Runtime's quantize_dynamic does.

    /usr/bin/python3 tools/reference/quantize_dynamic.py --models DIR [--force]
    /usr/bin/python3 tools/reference/quantize_dynamic.py --in MODEL.onnx --out OUT.onnx [--weight-type uint8|int8|int8_reduced]

ONNX Runtime's Python quantiser is not installable here (no PyPI), so this script applies its
rules with python3-onnx and numpy, for the files the seed system shipped
(`quant_pre_process` then `quantize_dynamic(weight_type=QUInt8)`) and the QInt8 variant:

  * Pre-processing as quant_pre_process does it: a BatchNormalization after a Conv is folded
    into the Conv's weights and bias, and Gemm with constant weights is rewritten to MatMul +
    Add (transB folded into the stored weights).
  * Every Conv and MatMul whose weights are initializers is quantised per tensor:
      - weights: uint8 asymmetric (range widened to hold 0, scale (max - min) / 255, zero point
        round(-min / scale)), int8 symmetric (scale max|w| / 127, zero point 0) or int8 with
        reduce_range=True (7 bits: scale max|w| / 64, values in [-64, 64]), rounding half to
        even, stored with their scale and zero point. ONNX Runtime computes uint8 x int8 products
        on CPUs without VNNI with int16 pair sums that saturate (255 * 127 * 2 > 32767), so
        full-range int8 files match exact integer arithmetic only on VNNI CPUs; reduce_range is
        the quantiser's setting for the others;
      - activations: DynamicQuantizeLinear at run time (one per quantised tensor, shared by
        its consumers);
      - ConvInteger / MatMulInteger -> Cast(int32 -> float) -> Mul(activation scale, weight
        scale) -> Mul; a Conv bias is reshaped to (1, M, 1, 1) and added.
  * Everything else (pooling, ReLU, the attention tail) stays float.

With --models DIR, reads DIR/manifest.json (tools/reference/export_models.py), writes
DIR/quantized/<model>_<weight type>.onnx for the fp32 models and DIR/quantized/manifest.json
(files, source model, weight type, counts of the integer ops). Nothing is rewritten when the
manifest records this script's hash and its sources' hashes and every file is present.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_files import sources_digest, write_manifest  # noqa: E402

# (source model, weight type): every opset form of the fp32 fixtures in uint8, two in int8.
VARIANTS = [
    ("attnmil_op11.onnx", "uint8"),
    ("attnmil_op13_nofold.onnx", "uint8"),
    ("attnmil_op14_bn.onnx", "uint8"),
    ("attnmil_op17_nofold_bn.onnx", "uint8"),
    ("attnmil_op11.onnx", "int8_reduced"),
    ("attnmil_op17_nofold_bn.onnx", "int8_reduced"),
    ("attnmil_op11.onnx", "int8"),
]


def quantize_weights(w: np.ndarray, weight_type: str):
    """(quantised array, scale, zero point) per tensor, as ONNX Runtime's quantize_data."""
    w = w.astype(np.float32)
    rmin = min(float(w.min()), 0.0)
    rmax = max(float(w.max()), 0.0)
    if weight_type == "uint8":
        scale = np.float32((rmax - rmin) / 255.0) if rmax > rmin else np.float32(1.0)
        zero = int(np.clip(np.round(0.0 - rmin / scale), 0, 255))
        q = np.clip(np.round(w / scale) + zero, 0, 255).astype(np.uint8)
        return q, scale, np.uint8(zero)
    qmax = 64 if weight_type == "int8_reduced" else 127
    absmax = max(abs(rmin), abs(rmax))
    scale = np.float32(absmax / qmax) if absmax > 0 else np.float32(1.0)
    q = np.clip(np.round(w / scale), -qmax, qmax).astype(np.int8)
    return q, scale, np.int8(0)


class Quantizer:
    def __init__(self, model: onnx.ModelProto, weight_type: str):
        self.model = model
        self.weight_type = weight_type
        self.graph = model.graph
        self.inits = {i.name: i for i in self.graph.initializer}
        self.new_inits: list[TensorProto] = []
        self.quantized_inputs: dict[str, tuple[str, str, str]] = {}
        self.nodes: list[onnx.NodeProto] = []

    def constant(self, name: str) -> np.ndarray | None:
        return numpy_helper.to_array(self.inits[name]) if name in self.inits else None

    def add_init(self, array: np.ndarray, name: str) -> str:
        self.new_inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def quantized_input(self, name: str) -> tuple[str, str, str]:
        if name not in self.quantized_inputs:
            base = name.replace("/", "_").strip("_")
            outs = (f"{base}_quantized", f"{base}_scale", f"{base}_zero_point")
            self.nodes.append(helper.make_node("DynamicQuantizeLinear", [name], list(outs),
                                               name=f"{base}_QuantizeLinear"))
            self.quantized_inputs[name] = outs
        return self.quantized_inputs[name]

    def integer_op(self, node: onnx.NodeProto, op: str, weights: np.ndarray, output: str, attrs) -> None:
        base = (node.name or node.output[0]).replace("/", "_").strip("_")
        q, scale, zero = quantize_weights(weights, self.weight_type)
        w_q = self.add_init(q, f"{base}_weight_quantized")
        w_scale = self.add_init(np.array(scale, dtype=np.float32), f"{base}_weight_scale")
        w_zero = self.add_init(np.array(zero), f"{base}_weight_zero_point")
        x_q, x_scale, x_zero = self.quantized_input(node.input[0])
        self.nodes.append(helper.make_node(op, [x_q, w_q, x_zero, w_zero], [f"{base}_output_quantized"],
                                           name=f"{base}_quant", **attrs))
        self.nodes.append(helper.make_node("Cast", [f"{base}_output_quantized"], [f"{base}_output_cast"],
                                           to=TensorProto.FLOAT, name=f"{base}_cast"))
        self.nodes.append(helper.make_node("Mul", [x_scale, w_scale], [f"{base}_scales_mul"],
                                           name=f"{base}_scales_mul"))
        self.nodes.append(helper.make_node("Mul", [f"{base}_output_cast", f"{base}_scales_mul"], [output],
                                           name=f"{base}_output_scale_mul"))

    def fold_batchnorms(self) -> None:
        """Conv -> BatchNormalization (constant parameters, the Conv output used once) becomes one Conv."""
        consumers = collections.Counter(i for n in self.graph.node for i in n.input)
        producer = {o: n for n in self.graph.node for o in n.output}
        folded = set()
        for bn in self.graph.node:
            if bn.op_type != "BatchNormalization" or bn.input[0] not in producer:
                continue
            conv = producer[bn.input[0]]
            params = [self.constant(name) for name in bn.input[1:5]]
            if conv.op_type != "Conv" or consumers[bn.input[0]] != 1 or self.constant(conv.input[1]) is None \
                    or any(p is None for p in params):
                continue
            gamma, beta, mean, var = (p.astype(np.float64) for p in params)
            eps = next((a.f for a in bn.attribute if a.name == "epsilon"), 1e-5)
            factor = gamma / np.sqrt(var + eps)
            w = self.constant(conv.input[1]).astype(np.float64)
            b = self.constant(conv.input[2]).astype(np.float64) if len(conv.input) > 2 and conv.input[2] \
                else np.zeros(w.shape[0])
            base = (conv.name or conv.output[0]).replace("/", "_").strip("_")
            w_name = self.add_init((w * factor[:, None, None, None]).astype(np.float32), f"{base}_weight_bn")
            b_name = self.add_init(((b - mean) * factor + beta).astype(np.float32), f"{base}_bias_bn")
            self.inits[w_name], self.inits[b_name] = self.new_inits[-2], self.new_inits[-1]
            x = conv.input[0]
            del conv.input[:]
            conv.input.extend([x, w_name, b_name])
            conv.output[0] = bn.output[0]
            folded.add(bn.name or bn.output[0])
        kept = [n for n in self.graph.node if n.op_type != "BatchNormalization" or (n.name or n.output[0]) not in folded]
        del self.graph.node[:]
        self.graph.node.extend(kept)

    def rewrite(self) -> onnx.ModelProto:
        self.fold_batchnorms()
        for node in self.graph.node:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Gemm" and self.constant(node.input[1]) is not None \
                    and attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 and not attrs.get("transA", 0):
                w = self.constant(node.input[1])
                w = w.T if attrs.get("transB", 0) else w
                base = (node.name or node.output[0]).replace("/", "_").strip("_")
                matmul = helper.make_node("MatMul", [node.input[0], f"{base}_weight_t"],
                                          [f"{base}_matmul_output"], name=f"{base}_MatMul")
                self.integer_op(matmul, "MatMulInteger", w, matmul.output[0], {})
                if len(node.input) > 2 and node.input[2]:
                    self.nodes.append(helper.make_node("Add", [matmul.output[0], node.input[2]], [node.output[0]],
                                                       name=f"{base}_Add"))
                else:
                    self.nodes.append(helper.make_node("Identity", [matmul.output[0]], [node.output[0]]))
            elif node.op_type == "MatMul" and self.constant(node.input[1]) is not None:
                self.integer_op(node, "MatMulInteger", self.constant(node.input[1]), node.output[0], {})
            elif node.op_type == "Conv" and self.constant(node.input[1]) is not None:
                has_bias = len(node.input) > 2 and node.input[2] and self.constant(node.input[2]) is not None
                base = (node.name or node.output[0]).replace("/", "_").strip("_")
                scaled = f"{base}_scaled_output" if has_bias else node.output[0]
                self.integer_op(node, "ConvInteger", self.constant(node.input[1]), scaled, attrs)
                if has_bias:
                    shape = self.add_init(np.array([1, -1, 1, 1], dtype=np.int64), f"{base}_bias_shape")
                    self.nodes.append(helper.make_node("Reshape", [node.input[2], shape], [f"{base}_bias_reshaped"],
                                                       name=f"{base}_bias_reshape"))
                    self.nodes.append(helper.make_node("Add", [scaled, f"{base}_bias_reshaped"], [node.output[0]],
                                                       name=f"{base}_bias_add"))
            else:
                self.nodes.append(node)
        del self.graph.node[:]
        self.graph.node.extend(self.nodes)
        used = {i for n in self.graph.node for i in n.input} | {o.name for o in self.graph.output}
        kept = [i for i in self.graph.initializer if i.name in used] + [i for i in self.new_inits if i.name in used]
        del self.graph.initializer[:]
        self.graph.initializer.extend(kept)
        # Graph inputs that listed the old initializers (IR < 4) go with them.
        inputs = [i for i in self.graph.input if i.name not in self.inits or i.name in used]
        del self.graph.input[:]
        self.graph.input.extend(inputs)
        self.model.metadata_props.add(key="coughkit.quantization", value=f"dynamic, {self.weight_type} weights")
        onnx.checker.check_model(self.model)
        return self.model


def quantize_file(src: str, dst: str, weight_type: str) -> dict:
    model = Quantizer(onnx.load(src), weight_type).rewrite()
    tmp = dst + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, dst)
    return dict(collections.Counter(n.op_type for n in model.graph.node
                                    if n.op_type in ("DynamicQuantizeLinear", "ConvInteger", "MatMulInteger")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", help="the model fixture directory (export_models.py --out)")
    ap.add_argument("--in", dest="src", help="one ONNX file to quantise")
    ap.add_argument("--out", help="where to write it (with --in)")
    ap.add_argument("--weight-type", choices=["uint8", "int8", "int8_reduced"], default="uint8")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    if args.src:
        if not args.out:
            ap.error("--in needs --out")
        print(json.dumps(quantize_file(args.src, args.out, args.weight_type)))
        return 0
    if not args.models:
        ap.error("give --models DIR or --in MODEL --out OUT")
    with open(os.path.join(args.models, "manifest.json")) as f:
        source_manifest = json.load(f)
    out = os.path.join(args.models, "quantized")
    os.makedirs(out, exist_ok=True)
    digest = sources_digest("quantize_dynamic.py", "export_models.py", "attnmil.py")
    manifest_path = os.path.join(out, "manifest.json")
    if not args.force and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = json.load(f)
        if old.get("script_hash") == digest and all(os.path.exists(os.path.join(out, m["file"]))
                                                    for m in old.get("models", [])):
            print(f"quantize_dynamic: {out} is up to date")
            return 0
    sources = {m["file"] for m in source_manifest["models"]}
    manifest = {"script_hash": digest, "models": []}
    for src, weight_type in VARIANTS:
        if src not in sources:
            raise SystemExit(f"quantize_dynamic: {src} is not in {args.models}/manifest.json")
        name = src.replace(".onnx", f"_dyn_{weight_type}.onnx")
        ops = quantize_file(os.path.join(args.models, src), os.path.join(out, name), weight_type)
        manifest["models"].append({"file": name, "source": src, "weight_type": weight_type, "integer_ops": ops})
        print(f"quantize_dynamic: wrote {name} {ops}")
    write_manifest(manifest_path, manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
