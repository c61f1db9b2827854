"""PyTorch's side of the training-throughput benchmark: segments per second of the reference
recipe's step (tools/reference/attnmil.py's AttnMILResNet, train mode, BCEWithLogits bag
loss, backward, AdamW) on random bags; the same step bench/training/training_step_bench.cpp
times in coughkit's LibTorch trainer. Prints one JSON line.

    /usr/bin/python3 bench/training/pytorch_step_bench.py [--bags 4] [--segments 4] [--threads 2]
                                                          [--warmup 2] [--steps 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "reference"))
from attnmil import AttnMILResNet  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bags", type=int, default=4)
    p.add_argument("--segments", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=8)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = AttnMILResNet(dropout=0.3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0]))
    x = torch.rand(a.bags, a.segments, 3, 224, 224) * 2 - 1
    mask = torch.ones(a.bags, a.segments, dtype=torch.bool)
    labels = torch.zeros(a.bags)
    labels[::2] = 1.0

    def step() -> None:
        model.train()
        optimizer.zero_grad()
        _, _, _, bag_logit = model(x, mask)
        loss = loss_fn(bag_logit, labels)
        loss.backward()
        optimizer.step()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    seconds = time.perf_counter() - start
    print(json.dumps({"implementation": f"PyTorch {torch.__version__}", "bags": a.bags,
                      "segments_per_bag": a.segments, "threads": a.threads, "steps": a.steps,
                      "seconds": seconds, "segments_per_second": a.steps * a.bags * a.segments / seconds,
                      "mkldnn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
                      "parallel_info": torch.__config__.parallel_info()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
