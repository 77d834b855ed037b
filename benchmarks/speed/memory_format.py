"""Training-step time of each conv net with contiguous (NCHW) against channels-last (NHWC) batches and weights,
or (`--compare compile`) eager against `torch.compile`d networks.

    python benchmarks/speed/memory_format.py [--compare layout|compile] [--device cpu] [--rounds 5] [--steps 8]
                                             [--out DIR]

For every case (a method's network at an input shape), the same seeded network is built twice, once per
layout; one step = forward (with the decoder where the method reconstructs), a loss touching every output,
backward and an Adam step, as in the training loop. The two layouts alternate over `rounds` rounds of `steps`
timed steps (after 2 warm-up steps), so background load falls on both alike; the figure is the median step.
The first step's outputs of the two layouts are compared, to show the layout changes speed and not results
beyond float rounding. Writes DIR/memory_format.json; the threads are torch's setting
(OMP_NUM_THREADS).

`--compare compile` builds each network twice in the layout `train.memory_format: auto` gives it
(channels-last for conv nets, contiguous for DEC's MLP, which this comparison adds) and compiles one
(`nn.Module.compile()`, inductor's default mode, what `train.compile=default` does); the warm-up steps
include the compilation, whose time is reported apart. Writes DIR/compile.json."""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from deepclust.methods.pipeline import build_model, make_config

# (method, channels, side, batch): the conv nets at the sizes they train on (28x28 grey benchmarks, the folder
# default's 64x64 colour photos); batch = the method's training batch.
CASES = [
    ("dcec", 1, 28, 256),
    ("heritage-cae", 1, 28, 16),
    ("heritage-cae", 3, 64, 16),
    ("stdac", 1, 28, 32),
    ("dac-star", 1, 28, 32),
    ("deepcluster", 3, 64, 256),
    ("dtc", 1, 28, 128),
]
MLP_CASE = ("dec", 1, 28, 256)  # d-500-500-2000-10 on 784 pixels; compile comparison only


def one_step(model, x, opt, reconstruct):
    out = model(x, reconstruct=reconstruct)
    loss = out.z.float().square().mean()
    if out.recon is not None:
        loss = loss + (out.recon.float() - x).square().mean()
    for t in (out.q, out.logits, out.class_logits):
        if t is not None:
            loss = loss + t.float().mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return out


def build(method, c, side, dev, channels_last, compiled=False):
    cfg = make_config(method, overrides={"data": {"image_size": side}})
    torch.manual_seed(0)
    model = build_model(cfg, (c, side, side), 10_000).to(dev).train()
    if channels_last:
        model.use_channels_last()
    if compiled:
        model.compile()
    reconstruct = "recon" in (cfg.pretrain.losses or {}) or "recon" in (cfg.cluster.losses or {})
    return model, torch.optim.Adam(model.parameters(), 1e-4), reconstruct


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        return platform.processor()


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--compare", choices=("layout", "compile"), default="layout")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--only", nargs="*", help="methods to run (default: all cases)")
    ap.add_argument("--out", default=None, help="default: benchmarks/results/cpu-memory-format (layout) or "
                    "benchmarks/results/cpu-compile (compile)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    kinds = ("contiguous", "channels_last") if a.compare == "layout" else ("eager", "compiled")
    rows = []
    for method, c, side, bs in CASES + ([MLP_CASE] if a.compare == "compile" else []):
        if a.only and method not in a.only:
            continue
        g = torch.Generator().manual_seed(1)
        x0 = torch.rand(bs, c, side, side, generator=g).to(dev)
        if a.compare == "layout":
            nets = {fmt: build(method, c, side, dev, fmt == "channels_last") for fmt in kinds}
        else:
            nets = {k: build(method, c, side, dev, method != "dec", k == "compiled") for k in kinds}
        first, warmup = {}, {}
        for fmt, (model, opt, rec) in nets.items():
            x = model.layout(x0)
            torch.manual_seed(2)  # the same dropout masks for both
            sync(dev)
            t = time.perf_counter()
            first[fmt] = one_step(model, x, opt, rec).z.detach().float().cpu()
            one_step(model, x, opt, rec)
            sync(dev)
            warmup[fmt] = time.perf_counter() - t
        times = {fmt: [] for fmt in nets}
        for _ in range(a.rounds):
            for fmt, (model, opt, rec) in nets.items():
                x = model.layout(x0)
                for _ in range(a.steps):
                    sync(dev)
                    t = time.perf_counter()
                    one_step(model, x, opt, rec)
                    sync(dev)
                    times[fmt].append(time.perf_counter() - t)
        med = {fmt: statistics.median(v) * 1000 for fmt, v in times.items()}
        a0, a1 = kinds
        row = {"method": method, "input": [c, side, side], "batch": bs,
               f"{a0}_ms": round(med[a0], 2), f"{a1}_ms": round(med[a1], 2),
               "speedup": round(med[a0] / med[a1], 3),
               "first_step_max_abs_diff_z": float((first[a0] - first[a1]).abs().max())}
        if a.compare == "compile":
            row["compile_s"] = round(warmup["compiled"] - warmup["eager"], 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    env = {"compare": a.compare, "device": (torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({platform.machine()})"),
           "cpu_model": cpu_model(),
           "threads": torch.get_num_threads(), "torch": torch.__version__, "rounds": a.rounds, "steps": a.steps,
           "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    out = Path(a.out or ("benchmarks/results/cpu-memory-format" if a.compare == "layout"
                         else "benchmarks/results/cpu-compile"))
    out.mkdir(parents=True, exist_ok=True)
    (out / ("memory_format.json" if a.compare == "layout" else "compile.json")).write_text(json.dumps({"env": env, "rows": rows}, indent=1) + "\n")
    print(json.dumps(env))


if __name__ == "__main__":
    main()
