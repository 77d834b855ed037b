"""The run folder (docs/run-folder.md): everything a report or a benchmark table reads."""
from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import RunConfig, dump_yaml
from ..data.folder import printable_name
from .checkpoint import load_checkpoint, save_checkpoint


def git_commit() -> str:
    """HEAD's short hash, with "+dirty" when the package's tracked code differs from it (a run on
    uncommitted changes must not claim a commit that lacks them)."""
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                             cwd=here, timeout=5)
        sha = out.stdout.strip()
        if not sha:
            return "unknown"
        st = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "."],
                            capture_output=True, text=True, cwd=here, timeout=5)
        return sha + ("+dirty" if st.returncode == 0 and st.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(s).name or s).strip("-")[:40] or "data"


def write_skipped_csv(path: Path, skipped) -> None:
    """The files a folder load skipped, as (file, reason) rows; names escaped where they are not UTF-8."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "reason"])
        w.writerows([printable_name(name), why] for name, why in skipped)


class RunDir:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    @classmethod
    def create(cls, cfg: RunConfig, run_id: str | None = None) -> "RunDir":
        if run_id is None:
            stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            run_id = f"{stamp}-{cfg.method.name}-{_slug(cfg.data.name)}-s{cfg.train.seed}"
        if Path(cfg.out_dir).exists() and not Path(cfg.out_dir).is_dir():
            from ..errors import UserError

            raise UserError(f"--out '{cfg.out_dir}' is a file: give a folder for the run folders")
        base = Path(cfg.out_dir) / run_id
        path, i = base, 1
        while path.exists():
            i += 1
            path = base.with_name(f"{base.name}-{i}")
        return cls(path)

    # -- files written during a run ------------------------------------------------------
    def write_config(self, cfg: RunConfig) -> None:
        (self.path / "config.yaml").write_text(dump_yaml(cfg), encoding="utf-8")

    def write_skipped(self, skipped) -> None:
        write_skipped_csv(self.path / "skipped.csv", skipped)

    def log(self, rec: dict[str, Any]) -> None:
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")

    def trim_log(self, stages: tuple[str, ...], stage: str, step: int) -> None:
        """Drop the metrics.jsonl lines logged after the checkpoint (stage, step) a run resumes from: that
        stretch is trained again, and its lines kept beside the new ones would read as a zig-zag curve. A loss
        line's step is the steps done (the checkpoint's own is kept); a refresher's line is logged before the
        step it names is trained, and the resumed run refreshes at the checkpoint's step again, so those go from
        it on; the end-of-run lines (stage "result") are written again at the end."""
        path = self.path / "metrics.jsonl"
        if not path.exists():
            return
        at = stages.index(stage)
        keep = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut short when the run was killed
                continue
            if not isinstance(rec, dict) or rec.get("stage") == "result":
                continue
            if rec.get("stage") in stages and isinstance(rec.get("step"), (int, float)):
                where = stages.index(rec["stage"])
                if where > at or (where == at and (rec["step"] > step or (rec["step"] == step and "loss" not in rec))):
                    continue
            keep.append(line)
        path.write_text("".join(f"{line}\n" for line in keep), encoding="utf-8")

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.pt"

    def save_checkpoint(self, payload: dict[str, Any]) -> None:
        save_checkpoint(self.checkpoint_path, payload)

    def load_checkpoint(self, device: torch.device) -> dict[str, Any] | None:
        if not self.checkpoint_path.exists():
            return None
        return load_checkpoint(self.checkpoint_path, device)

    # -- files written at the end ----------------------------------------------------------
    def write_k_estimate(self, estimate: dict[str, Any]) -> None:
        """How k was estimated (`--k auto`): cluster/estimate_k.KEstimate as JSON."""
        (self.path / "k_estimate.json").write_text(json.dumps(estimate, indent=2))

    def write_result(self, result: dict[str, Any]) -> None:
        (self.path / "result.json").write_text(json.dumps(result, indent=2))

    def write_assignments(self, names, labels, confidence, truth=None) -> None:
        with open(self.path / "assignments.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["file", "cluster", "confidence"] + (["label"] if truth is not None else []))
            for i, name in enumerate(names):
                row = [printable_name(name), int(labels[i]), f"{float(confidence[i]):.4f}"]
                if truth is not None:
                    row.append(int(truth[i]))
                w.writerow(row)

    def write_gallery(self, images: torch.Tensor, names, labels, confidence, per_cluster: int = 16,
                      source: Path | None = None, display_px: int = 128, reframe: str = "none") -> None:
        """The most confident images of each cluster. With `source` (the folder a run read), they are
        decoded again from the original files at `display_px`, so a person sees the photo rather than
        the small copy the network trained on, cropped as it was (`reframe`); a file that can no longer be read
        keeps the small copy."""
        labels = np.asarray(labels)
        confidence = np.asarray(confidence)
        pick = []
        for c in np.unique(labels):
            members = np.flatnonzero(labels == c)
            pick.extend(members[np.argsort(-confidence[members], kind="stable")[:per_cluster]].tolist())
        pick = np.asarray(pick, dtype=np.int64)
        imgs = images[torch.from_numpy(pick)].permute(0, 2, 3, 1).cpu().numpy()
        if source is not None and len(pick) and display_px > imgs.shape[1]:
            from ..data.folder import decode_image

            big = np.empty((len(pick), display_px, display_px, imgs.shape[3]), dtype=np.uint8)
            for j, i in enumerate(pick):
                try:
                    big[j] = decode_image(Path(source) / names[i], display_px, imgs.shape[3], reframe)
                except Exception:  # noqa: BLE001 - moved or changed since training: show the small copy
                    near = np.arange(display_px) * imgs.shape[1] // display_px  # nearest-neighbour upscale
                    big[j] = imgs[j][near][:, near]
            imgs = big
        np.savez_compressed(self.path / "gallery.npz", images=imgs, cluster=labels[pick],
                            confidence=confidence[pick].astype(np.float32),
                            names=np.asarray([printable_name(names[i]) for i in pick], dtype=str))

    def write_embedding_2d(self, z: np.ndarray, labels, truth=None, max_points: int = 5000, seed: int = 0) -> None:
        from sklearn.decomposition import PCA

        n = len(z)
        idx = np.random.default_rng(seed).permutation(n)[:max_points] if n > max_points else np.arange(n)
        zz = z[idx]
        if zz.shape[1] > 2:
            xy = PCA(n_components=2, random_state=seed).fit_transform(zz)
        else:  # already 2-D, or 1-D (e.g. k-means on 1-px grey images): drawn on a line
            xy = np.concatenate([zz, np.zeros((len(zz), 2 - zz.shape[1]), zz.dtype)], axis=1)
        extra = {"label": np.asarray(truth)[idx]} if truth is not None else {}
        np.savez_compressed(self.path / "embedding_2d.npz", xy=xy.astype(np.float32),
                            cluster=np.asarray(labels)[idx], **extra)

    def write_augmented(self, originals: torch.Tensor, views: torch.Tensor, names, preset: str) -> None:
        """A few images and augmented copies of them, so the report shows what the model trained on."""
        np.savez_compressed(self.path / "augmented.npz", original=originals.permute(0, 2, 3, 1).numpy(),
                            views=views.permute(0, 1, 3, 4, 2).numpy(), names=np.asarray([printable_name(n) for n in names], dtype=str),
                            preset=np.asarray(preset))

    def write_gradcam(self, images: np.ndarray, maps: np.ndarray, clusters: np.ndarray, names) -> None:
        """Grad-CAM++ maps (gradcam.npz): images N×C×H×W uint8, maps N×H×W uint8 (0-255 = 0-1), the cluster
        each was explained for, and names (printable)."""
        np.savez_compressed(self.path / "gradcam.npz", images=images, maps=maps, clusters=np.asarray(clusters),
                            names=np.asarray([printable_name(n) for n in names], dtype=str))

    def write_st(self, originals, early, early_step: int, final, mean, std, group_kind: str) -> None:
        """The first spatial-transformer layer at work (st.npz): probe images (N×C×H×W uint8), its output
        early in training (or absent) and at the end, and per-group mean/std of input [0] and output [1]."""
        arrays = {"original": originals, "final": final, "early_step": np.asarray(early_step),
                  "mean": mean, "std": std, "group_kind": np.asarray(group_kind)}
        if early is not None:
            arrays["early"] = early
        np.savez_compressed(self.path / "st.npz", **arrays)

    def save_model(self, tensors: dict[str, torch.Tensor]) -> None:
        from safetensors.torch import save

        # Serialised in memory and written as an ordinary file: the permissions follow the umask like
        # every other file of the run (safetensors' own writer leaves it readable by the owner only),
        # and a crash mid-write leaves the previous model in place.
        blob = save({k: v.detach().float().cpu().contiguous().clone() for k, v in tensors.items()})
        tmp = self.path / "model.safetensors.tmp"
        tmp.write_bytes(blob)
        os.replace(tmp, self.path / "model.safetensors")
