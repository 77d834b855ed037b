"""Augmentation overhead: steady-state training-step time of the DCEC autoencoder with and without
on-device augmentation (and with a consistency view), interleaved so every variant sees the same
machine load; plus the cost of one batched warp of 256 images. Writes one JSON file.

    python benchmarks/augment/overhead.py [--device cpu|cuda] [--out benchmarks/results/augment-overhead]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from deepclust.augment import AUGMENTATIONS
from deepclust.config import EncoderConfig
from deepclust.data import load_dataset
from deepclust.nets import build_autoencoder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--preset", default="heritage")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default="benchmarks/results/augment-overhead")
    args = ap.parse_args()
    dev = torch.device(args.device)
    images = load_dataset("mnist-test").images.to(dev)
    aug = AUGMENTATIONS.get(args.preset)
    torch.manual_seed(0)
    ae = build_autoencoder(EncoderConfig(name="conv_ae"), (1, 28, 28)).to(dev)
    opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
    g = torch.Generator(device=dev).manual_seed(0)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def step(mode: str, i: int) -> None:
        idx = torch.randint(0, len(images), (256,), device=dev, generator=g)
        x = images[idx].float() / 255
        if mode == "augmented":  # the input is an augmented copy (DEC-DA)
            x = aug(x, g)
        loss = ((ae.decode(ae.encode(x)) - x) ** 2).mean()
        if mode == "augmented+view":  # plus one more view through the encoder (consistency terms)
            loss = loss + ae.encode(aug(x, g)).pow(2).mean() * 0.0
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    modes = ["plain", "augmented", "augmented+view"]
    for m in modes:
        for i in range(3):
            step(m, i)  # warm-up
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for m in modes:
            sync()
            t = time.perf_counter()
            for i in range(args.steps):
                step(m, i)
            sync()
            times[m].append((time.perf_counter() - t) / args.steps * 1000)
    x = images[:256].float() / 255
    warp_ms = []
    for _ in range(20):
        sync()
        t = time.perf_counter()
        aug(x, g)
        sync()
        warp_ms.append((time.perf_counter() - t) * 1000)
    med = {m: statistics.median(v) for m, v in times.items()}
    rec = {
        "what": "steady-state ms per training step, DCEC conv AE, batch 256, MNIST 28x28; median of rounds",
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else
        f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "torch": torch.__version__, "preset": args.preset, "ms_per_step": med, "rounds": times,
        "overhead_augmented": med["augmented"] / med["plain"] - 1,
        "overhead_augmented_view": med["augmented+view"] / med["plain"] - 1,
        "warp_256_ms": statistics.median(warp_ms),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{dev.type}.json"
    path.write_text(json.dumps(rec, indent=1))
    print(json.dumps({k: rec[k] for k in ("device", "ms_per_step", "overhead_augmented", "overhead_augmented_view",
                                          "warp_256_ms")}, indent=1))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
