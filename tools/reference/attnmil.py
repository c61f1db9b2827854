"""AttnMILResNet, the reference cough model, restated from docs/pipeline.md sections 5-6.

The forward pass is written op for op as the reference exported it (shared/golden's
attnmil_ref_opset14.onnx): segments are folded into the batch for the backbone, the
attention and segment heads run on the flat (B*S, 512) features, masked scores become
float32 lowest before the softmax over S. Keeping that structure keeps exported graphs
comparable with the golden one.

Run as a script to check it against a golden set (state-dict keys and outputs):
    /usr/bin/python3 tools/reference/attnmil.py [GOLDEN_DIR]
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision

IMAGE_SIZE = 224
# ImageNet statistics, docs/pipeline.md section 5.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
INPUT_NAMES = ["spectrograms", "segment_mask"]
OUTPUT_NAMES = ["bag_probability", "segment_probabilities", "segment_logits", "bag_logit"]


class AttnMILResNet(nn.Module):
    def __init__(self, attn_hidden: int = 128, dropout: float = 0.3):
        super().__init__()
        self.backbone = torchvision.models.resnet18(weights=None)
        self.backbone.fc = nn.Identity()
        dim = 512
        self.attn = nn.Sequential(nn.Linear(dim, attn_hidden), nn.Tanh(), nn.Linear(attn_hidden, 1))
        self.bag_head = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(), nn.BatchNorm1d(dim), nn.Dropout(dropout), nn.Linear(dim, 1))
        self.seg_head = nn.Linear(dim, 1)

    def forward(self, spectrograms: torch.Tensor, segment_mask: torch.Tensor):
        b, s, c, h, w = spectrograms.shape
        feats = self.backbone(spectrograms.reshape(b * s, c, h, w))  # (B*S, D)
        bag_feats = feats.reshape(b, s, feats.shape[1])
        scores = self.attn(feats).reshape(b, s)
        lowest = torch.tensor(torch.finfo(torch.float32).min, dtype=scores.dtype)
        scores = torch.where(segment_mask, scores, lowest)
        weights = torch.softmax(scores, dim=1)
        bag = (weights.unsqueeze(-1) * bag_feats).sum(dim=1)
        bag_logit = self.bag_head(bag).squeeze(1)
        segment_logits = self.seg_head(feats).reshape(b, s)
        return torch.sigmoid(bag_logit), torch.sigmoid(segment_logits), segment_logits, bag_logit


def images_to_input(images: np.ndarray) -> torch.Tensor:
    """(S, 224, 224) images in [-1, 1] -> (S, 3, 224, 224) normalised model input."""
    x01 = (torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)) + 1.0) / 2.0
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    return (x01.unsqueeze(1).expand(-1, 3, -1, -1) - mean) / std


def load_checkpoint(path: str) -> AttnMILResNet:
    """A checkpoint dict with `model_state_dict`, or a bare state dict (docs/pipeline.md section 6)."""
    ckpt = torch.load(path, map_location="cpu")
    state = ckpt.get("model_state_dict", ckpt)
    cfg = ckpt.get("config", {}) if "model_state_dict" in ckpt else {}
    model = AttnMILResNet(attn_hidden=cfg.get("attn_hidden", 128), dropout=cfg.get("dropout", 0.3))
    model.load_state_dict(state, strict=True)
    return model.eval()


def verify(golden_dir: str) -> float:
    """Max abs difference of this module's outputs from the golden manifest; raises on a key mismatch."""
    ckpt = torch.load(os.path.join(golden_dir, "models", "attnmil_ref.pth"), map_location="cpu")
    expected_keys = set(ckpt["model_state_dict"].keys())
    own_keys = set(AttnMILResNet().state_dict().keys())
    if own_keys != expected_keys:
        raise SystemExit(f"state_dict keys differ: missing {sorted(expected_keys - own_keys)}, "
                         f"extra {sorted(own_keys - expected_keys)}")
    model = load_checkpoint(os.path.join(golden_dir, "models", "attnmil_ref.pth"))
    with open(os.path.join(golden_dir, "manifest.json")) as f:
        manifest = json.load(f)
    worst = 0.0
    for clip in manifest["clips"]:
        images = np.load(os.path.join(golden_dir, clip["mel"]))
        x = images_to_input(images).unsqueeze(0)
        mask = torch.ones(1, x.shape[1], dtype=torch.bool)
        with torch.no_grad():
            outs = model(x, mask)
        for name, value in zip(OUTPUT_NAMES, outs):
            want = np.asarray(clip[name], dtype=np.float64).reshape(-1)
            worst = max(worst, float(np.max(np.abs(value.numpy().reshape(-1) - want))))
    return worst


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    golden = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "golden")
    diff = verify(golden)
    print(f"attnmil: state_dict keys match; max |output - golden| = {diff:.3g}")
    sys.exit(0 if diff <= 1e-4 else 1)
