"""Cost of spatial-transformer layers: training steps of the ST-DAC CNN with 0-3 ST layers on MNIST-sized
batches (32 images of 28x28, Adam, the real training loop's model and loss), interleaved and repeated so
that all variants share the machine's conditions; the epoch time on 70,000 images is extrapolated from
the median step time. Usage: python benchmarks/stdac/st_overhead.py OUT.json [--device cuda] [--steps 30]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import torch

from deepclust.config import EncoderConfig
from deepclust.nets import build_autoencoder
from deepclust.nets.model import ClusterNet
from deepclust.objectives import Batch, ClusterState
from deepclust.objectives.pairwise import PairwiseLoss


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args(argv)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    x = torch.rand(a.batch, 1, 28, 28, device=dev)
    state = ClusterState(thresholds=torch.tensor([0.9, 0.95], device=dev))
    loss_fn = PairwiseLoss()
    nets = {}
    for n in range(4):
        net = ClusterNet(build_autoencoder(EncoderConfig(name="stdac_cnn", st_layers=n, embed_dim=10), (1, 28, 28))).to(dev)
        nets[n] = (net, torch.optim.Adam(net.parameters(), 1e-4))
    times: dict[int, list[float]] = {n: [] for n in nets}

    def steps(n, k):
        net, opt = nets[n]
        for _ in range(k):
            out = net(x, reconstruct=False)
            loss = loss_fn(out, Batch(x=x, idx=torch.arange(a.batch, device=dev)), state)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for n in nets:
        steps(n, 3)  # warm-up
    for _ in range(a.repeats):
        for n in nets:
            t = time.perf_counter()
            steps(n, a.steps)
            times[n].append((time.perf_counter() - t) / a.steps)
    per_step = {n: statistics.median(v) for n, v in times.items()}
    epoch_steps = 70_000 // a.batch
    res = {
        "what": "ST-DAC CNN training step (forward, pairwise loss, backward, Adam) at batch 32, 28x28",
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else
        f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "torch": torch.__version__, "steps": a.steps, "repeats": a.repeats,
        "step_ms": {str(n): round(v * 1000, 2) for n, v in per_step.items()},
        "epoch_s_70k": {str(n): round(v * epoch_steps, 1) for n, v in per_step.items()},
        "ratio_vs_0": {str(n): round(v / per_step[0], 3) for n, v in per_step.items()},
        "goal": "3 ST layers: <= 2x the epoch time without ST layers",
        "command": " ".join(sys.argv),
    }
    res["goal_met"] = res["ratio_vs_0"]["3"] <= 2.0
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
