"""One step of the reference training recipe (docs/pipeline.md section 8), for coughkit's
trainer tests; and a strict-load forward pass to check the checkpoints coughkit writes.

    /usr/bin/python3 tools/reference/train_step.py step --out DIR [--seed 0] [--threads 2] \
        [--segment-loss-weight W]
    /usr/bin/python3 tools/reference/train_step.py forward --checkpoint best_model.pth \
        --out outputs.json bag0.npy [bag1.npy ...]

`step` builds tools/reference/attnmil.py's AttnMILResNet from a fixed seed with Dropout(p=0)
and writes, under DIR:
  initial.pth            torch.save({"model_state_dict", "epoch": 0, "config"}) before the step
  bag<i>.npy             float32 (S_i, 224, 224) images in [-1, 1] for bags of S = 2, 1, 3
                         segments (random, rounded through float16 as the feature cache is)
  inputs.npy, mask.npy   the padded batch: float32 (3, 3, 3, 224, 224) model input (zero
                         images after each bag's own segments) and float32 0/1 mask (3, 3)
  updated.pth            the same dict after exactly one step (weights and BN running stats)
  reference.json         loss, labels, pos_weight, lr, weight_decay, segments, bag_logit
                         (of the forward pass of the step), torch version, threads
The step: model.train(); BCEWithLogitsLoss(pos_weight=negatives/positives) on bag_logit;
AdamW(lr=1e-4, weight_decay=1e-4) with its default betas and eps; zero_grad, backward, step.
With --segment-loss-weight W > 0 the loss gains W x BCEWithLogitsLoss(pos_weight=negative /
positive labelled segments) on the segment logits of the labelled segments (docs/pipeline.md
section 8): bag 0 labelled (1, 0), bag 1 without labels, bag 2 labelled (0, 0, 1), so the
term must skip both an unlabelled bag and the padding; reference.json then also holds
segment_labels (null for bag 1), segment_loss_weight, segment_pos_weight and segment_loss.

`forward` loads a checkpoint with attnmil.load_checkpoint (torch.load + strict
load_state_dict, eval mode) and writes the four outputs of each bag (one bag per call,
all segments real) as JSON: {"bags": [{"bag_probability", "bag_logit",
"segment_probabilities", "segment_logits"}, ...]}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attnmil import AttnMILResNet, images_to_input, load_checkpoint  # noqa: E402

SEGMENTS = (2, 1, 3)
LABELS = (1.0, 0.0, 1.0)
SEGMENT_LABELS = ((1.0, 0.0), None, (0.0, 0.0, 1.0))
LR = 1e-4
WEIGHT_DECAY = 1e-4


def step(out: str, seed: int, segment_loss_weight: float) -> None:
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(seed)
    model = AttnMILResNet(dropout=0.0)
    config = {"dropout": 0.0, "attn_hidden": 128}
    torch.save({"model_state_dict": model.state_dict(), "epoch": 0, "config": config},
               os.path.join(out, "initial.pth"))

    rng = np.random.default_rng(seed)
    bags = []
    for i, s in enumerate(SEGMENTS):
        images = rng.uniform(-1.0, 1.0, size=(s, 224, 224)).astype(np.float16).astype(np.float32)
        np.save(os.path.join(out, f"bag{i}.npy"), images)
        bags.append(images)
    b, smax = len(bags), max(SEGMENTS)
    x = torch.zeros(b, smax, 3, 224, 224, dtype=torch.float32)
    mask = torch.zeros(b, smax, dtype=torch.bool)
    for i, images in enumerate(bags):
        x[i, : images.shape[0]] = images_to_input(images)
        mask[i, : images.shape[0]] = True
    labels = torch.tensor(LABELS, dtype=torch.float32)
    np.save(os.path.join(out, "inputs.npy"), x.numpy())
    np.save(os.path.join(out, "mask.npy"), mask.numpy().astype(np.float32))

    positives = float(labels.sum())
    pos_weight = (len(LABELS) - positives) / positives
    criterion = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([pos_weight], dtype=torch.float32))
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    segment_y = torch.zeros(b, smax, dtype=torch.float32)
    segment_labelled = torch.zeros(b, smax, dtype=torch.bool)
    for i, seg in enumerate(SEGMENT_LABELS):
        if seg is not None:
            segment_y[i, : len(seg)] = torch.tensor(seg)
            segment_labelled[i, : len(seg)] = True
    segment_positives = float(segment_y[segment_labelled].sum())
    segment_pos_weight = (float(segment_labelled.sum()) - segment_positives) / segment_positives
    segment_criterion = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([segment_pos_weight], dtype=torch.float32))

    model.train()
    optimizer.zero_grad()
    _, _, segment_logit, bag_logit = model(x, mask)
    loss = criterion(bag_logit, labels)
    segment_loss = segment_criterion(segment_logit[segment_labelled], segment_y[segment_labelled])
    if segment_loss_weight > 0:
        loss = loss + segment_loss_weight * segment_loss
    loss.backward()
    optimizer.step()

    torch.save({"model_state_dict": model.state_dict(), "epoch": 1, "config": config},
               os.path.join(out, "updated.pth"))
    reference = {"loss": float(loss), "labels": list(LABELS), "segments": list(SEGMENTS),
                 "pos_weight": pos_weight, "lr": LR, "weight_decay": WEIGHT_DECAY,
                 "bag_logit": [float(v) for v in bag_logit.detach()],
                 "seed": seed, "threads": torch.get_num_threads(), "torch": torch.__version__}
    if segment_loss_weight > 0:
        reference.update({"segment_labels": [list(v) if v is not None else None for v in SEGMENT_LABELS],
                          "segment_loss_weight": segment_loss_weight, "segment_pos_weight": segment_pos_weight,
                          "segment_loss": float(segment_loss)})
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
    print(f"train_step: loss {float(loss):.8f}, wrote {out}")


def forward(checkpoint: str, images: list[str], out: str) -> None:
    model = load_checkpoint(checkpoint)
    result = []
    with torch.no_grad():
        for path in images:
            x = images_to_input(np.load(path).astype(np.float32)).unsqueeze(0)
            mask = torch.ones(1, x.shape[1], dtype=torch.bool)
            prob, seg_prob, seg_logit, logit = model(x, mask)
            result.append({"bag_probability": float(prob[0]), "bag_logit": float(logit[0]),
                           "segment_probabilities": [float(v) for v in seg_prob[0]],
                           "segment_logits": [float(v) for v in seg_logit[0]]})
    with open(out, "w") as f:
        json.dump({"bags": result}, f, indent=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("step", help="write the batch, the initial weights and one reference step")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--segment-loss-weight", type=float, default=0.0)
    f = sub.add_parser("forward", help="outputs of a checkpoint (strict load) on bags of images")
    f.add_argument("--checkpoint", required=True)
    f.add_argument("--out", required=True)
    f.add_argument("--threads", type=int, default=2)
    f.add_argument("images", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.command == "step":
        step(args.out, args.seed, args.segment_loss_weight)
    else:
        forward(args.checkpoint, args.images, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
