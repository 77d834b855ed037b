"""Command line: parses, builds, dispatches. Errors a user can cause print one line, no traceback."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .data import DATASETS, FOLDER_IMAGE_SIZE
from .errors import UserError

FOLDER_METHOD = "deepcluster"  # the default for photo folders since 2026-12-07 (ST-DAC before): README "Which method for photos"
# Folder runs cap clustering at 2,000 steps (the paper's 20,000 is for its benchmarks); DEC's
# tolerance rule usually stops sooner. Raise it with --set cluster.max_steps=N. Photos are cropped to their
# object and a plain backdrop is set to black (data.reframe=isolate, since 2026-12-07; --reframe object keeps the
# backdrop, --reframe none takes the centre square): ST-DAC on COIL-20 "in the wild" 0.168 (centre) -> 0.440
# (object) -> 0.612 (isolate) ACC, on COIL-20 as shot 0.738 -> 0.721 -> 0.721 (README "Which method and size").
FOLDER_DEFAULTS = {"cluster": {"max_steps": 2000}, "data": {"reframe": "isolate"}}
# ... and per method, what photos need that the benchmark recipe does not: DeepCluster trains on the
# reference's random crops and flips (mirror images did no harm on USPS digits as a folder either: 0.796 against
# 0.756 with crops alone, 3 seeds, folder-usps/summary.md), and sees the photos' grey levels,
# not only the Sobel edges of the reference's front end (3 seeds each, before the fixes of 2026-12-07 evening:
# 0.814 against 0.791 on 1,440 wild photos, 0.875 against 0.795 on 720, ties on the as-shot ones). Measured on
# COIL-20 as a folder: benchmarks/results/folder-defaults*/deepcluster+*, folder-transfer*/deepcluster+*.
FOLDER_METHOD_DEFAULTS = {"deepcluster": {"cluster": {"augment": "crop-flip"}, "encoder": {"sobel": False}}}


def _k_arg(text: str | None) -> int | str | None:
    if text is None or text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise UserError(f"--k {text}: give a number of clusters such as --k 10, or --k auto to estimate it") from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--k", default=None,
                   help="number of clusters (default 10), or auto: estimate it before training, from the images (eigengap of "
                        "a nearest-neighbour graph of their pixels) or, with --known, from known classes held out "
                        "as probes (Deep Transfer Clustering's estimate)")
    p.add_argument("--config", help="YAML file of settings (same keys as config.yaml in a run folder)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set encoder.pool=gap (repeatable)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None, help="auto | cpu | cuda[:N]")
    p.add_argument("--out", default=None, help="parent folder of run folders (default runs/)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint")
    p.add_argument("--no-report", action="store_true", help="skip writing report.html")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--known", default=None, metavar="FOLDER",
                   help="labelled images of other, known classes, one subfolder per class: Deep Transfer Clustering "
                        "(--method dtc, the default with --known) first learns to tell them apart, then clusters the "
                        "images with what it learnt")
    p.add_argument("--augment", default=None, metavar="PRESET",
                   help="train on augmented images (heritage, rot, shear, scale, dec-da, dac, crop-flip, crop): the "
                        "autoencoder's pretraining on original + augmented images, or for methods without one "
                        "(deepcluster, stdac, dac) the clustering stage's views")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="deepclust", description="Deep image clustering.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("cluster", help="cluster a folder of images")
    p.add_argument("folder", nargs="?", default=None, help="the folder of images (optional with --resume)")
    p.add_argument("--method", default=None, help=f"method (default {FOLDER_METHOD}); see 'deepclust list'")
    p.add_argument("--image-size", type=int, default=None, help=f"side in pixels (default {FOLDER_IMAGE_SIZE})")
    p.add_argument("--channels", type=int, choices=(1, 3), default=None, help="1 = grey, 3 = colour (default: auto)")
    p.add_argument("--reframe", choices=("none", "object", "isolate"), default=None,
                   help="isolate (the default): crop each photo to the square around its object before shrinking "
                        "it, and where the object stands on a plain backdrop set the backdrop to black; object: the "
                        "crop only; none: the centre square")
    _common(p)

    p = sub.add_parser("fit", help="fit a method on a built-in dataset (or a folder)")
    p.add_argument("--method", default=None, help="method name (default dec); see 'deepclust list'")
    p.add_argument("--data", default=None, help="mnist | mnist-test | fashion-mnist | usps | coil20 | digits | FOLDER")
    p.add_argument("--data-root", default=None, help="where the datasets are (or set DEEPCLUST_DATA)")
    p.add_argument("--profile", choices=("quick", "full"), default=None,
                   help="use the benchmark schedule for this method and dataset")
    _common(p)

    p = sub.add_parser("predict", help="assign new images to the clusters of a finished run")
    p.add_argument("run_dir")
    p.add_argument("folder")
    p.add_argument("--output", default=None, help="CSV to write (default RUN_DIR/predictions-<folder>.csv)")

    sub.add_parser("list", help="show methods, encoders, losses, refreshers and datasets")

    p = sub.add_parser("report", help="(re)write report.html of a run folder")
    p.add_argument("run_dir")

    p = sub.add_parser("bench", help="run a paper table, or print it: deepclust bench report TABLE; "
                                     "learning curves of its cells: deepclust bench curves TABLE")
    p.add_argument("table", help="table name (e.g. gapdcec-table1), or 'report' or 'curves'")
    p.add_argument("rest", nargs="*", help="with 'report' or 'curves': the table name")
    p.add_argument("--profile", choices=("quick", "full"), default="quick")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--rows", nargs="+", default=None, help="only these rows")
    p.add_argument("--datasets", nargs="+", default=None, help="only these datasets")
    p.add_argument("--results", default=None, help="results folder (default benchmarks/results)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--device", default=None)
    p.add_argument("--into", default=None, metavar="FILE",
                   help="with 'report': replace the block between '<!-- TABLE: ... -->' and '<!-- /TABLE -->' in FILE")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="run a variant of the table's cells with this setting changed (repeatable; needs --variant)")
    p.add_argument("--variant", default=None, metavar="NAME",
                   help="name of the variant: its cells go to RESULTS/TABLE/PROFILE+NAME/, reported as their own section "
                        "(with 'curves': draw that variant's cells); once it holds cells, leaving --set out reuses "
                        "their settings (e.g. to add a seed) and different --set values are refused")
    return ap


def _train(args, data_name: str, method_default: str, image_size_default: int | None) -> int:
    from .config import deep_update, merge
    from .data import load_dataset
    from .methods.pipeline import fit, load_run_config, make_config, write_outputs
    from .train import dist
    from .train.rundir import RunDir

    dist.setup(args.device or "auto")  # under torchrun: join the process group; else nothing
    main = dist.is_main()
    say = print if main else (lambda *a, **k: None)
    if args.resume:
        if not (Path(args.resume) / "config.yaml").is_file():  # checked before RunDir, which creates the folder
            raise UserError(f"'{args.resume}' has no config.yaml: pass the run folder printed by the first run")
        run = RunDir(Path(args.resume))
        cfg = _check_resume(args, load_run_config(run.path), data_name)
        k_unset = False
    else:
        over: dict = {"method": {}, "data": {"name": data_name}, "train": {}}
        if isinstance(args.k, int):
            over["method"]["n_clusters"] = args.k
        if getattr(args, "method", None):
            over["method"]["name"] = args.method
        if getattr(args, "data_root", None):
            over["data"]["root"] = args.data_root
        if args.known:
            _need_folder(args.known, "give --known the folder with one subfolder of images per known class")
            over["data"]["known"] = str(Path(args.known).resolve())  # absolute: --resume works from anywhere
            if not over["method"].get("name"):
                method_default = "dtc"  # unless --config or --set name another method
        if getattr(args, "image_size", None) is not None and args.image_size < 1:
            raise UserError(f"--image-size {args.image_size}: give a side in pixels, e.g. --image-size {FOLDER_IMAGE_SIZE}")
        if getattr(args, "image_size", None):
            over["data"]["image_size"] = args.image_size
        if getattr(args, "channels", None):
            over["data"]["channels"] = args.channels
        if getattr(args, "reframe", None):
            over["data"]["reframe"] = args.reframe
        if args.seed is not None:
            over["train"]["seed"] = args.seed
        if args.device:
            over["train"]["device"] = args.device
        if args.quiet:
            over["train"]["progress"] = False
        if args.out:
            over["out_dir"] = args.out
        method = over["method"].get("name") or method_default
        base: dict = deep_update(FOLDER_DEFAULTS, FOLDER_METHOD_DEFAULTS.get(method, {})) if args.cmd == "cluster" else {}
        profile = getattr(args, "profile", None)
        if profile:
            from .bench.tables import profile_overrides

            base = deep_update(base, profile_overrides(method, data_name, profile))
        cfg = make_config(method, config_file=args.config, sets=args.set, overrides=over, base=base)
        # `fit` on a labelled dataset with k given nowhere (--k, --config, --set): its number of classes, not
        # the default 10 (COIL-20 has 20); found out by building the settings over a base that says 0
        k_unset = args.cmd == "fit" and args.k is None and make_config(
            method, config_file=args.config, sets=args.set, overrides=over,
            base=deep_update(base, {"method": {"n_clusters": 0}})).method.n_clusters == 0
        if cfg.data.attention != "none" and cfg.data.reframe != "none" and "reframe" in base.get("data", {}):
            # GrabCut takes the image's outer 10 % for background, which the object crop leaves no room for: the
            # folder default gives way to it, unless the user asked for both (then prepare_known says why not).
            asked = make_config(method, config_file=args.config, sets=args.set, overrides=over,
                                base={**base, "data": {k: v for k, v in base["data"].items() if k != "reframe"}})
            if asked.data.reframe == "none":
                cfg = merge(cfg, {"data": {"reframe": "none"}})
                say("data.attention=grabcut: photos are centre-cropped (data.reframe=none), as GrabCut's box needs")
        if cfg.data.image_size is None and image_size_default is not None:
            cfg = merge(cfg, {"data": {"image_size": image_size_default}})
        if args.augment:  # decided on the finished config, so --config/--set that add a pretraining count
            if any(cfg.pretrain.losses.values()):
                cfg = merge(cfg, {"pretrain": {"augment": args.augment, "inputs": "both"}})
            else:  # no autoencoder to pretrain (ST-DAC, DAC): the clustering stage trains on these views
                cfg = merge(cfg, {"cluster": {"augment": args.augment}})
        run = None
    d = cfg.data
    if run is None:  # settings that need no images fail before a folder is decoded (minutes for a large one)
        from .augment import AUGMENTATIONS
        from .train.device import resolve_device

        resolve_device(cfg.train.device)
        for stage in (cfg.pretrain, cfg.cluster):
            if stage.augment:
                AUGMENTATIONS.get(stage.augment)

    def load():
        return load_dataset(d.name, root=d.root, image_size=d.image_size, channels=d.channels, limit=d.limit,
                            reframe=d.reframe)

    # Under torchrun process 0 decodes (and caches) first; the others then read the cache.
    data = load() if main else None
    dist.barrier()
    if data is None:
        data = load()
    if data.skipped and main:
        _print_skipped(data.skipped, "see skipped.csv in the run folder")
    from .data.known import prepare_known

    cfg, data, known = prepare_known(cfg, data)  # DTC: the labelled known classes, and the images to cluster
    if run is None and k_unset and data.labels is not None:
        n_classes = int(data.labels.unique().numel())
        if n_classes >= 2 and n_classes != cfg.method.n_clusters:
            cfg = merge(cfg, {"method": {"n_clusters": n_classes}})
            say(f"k={n_classes}: the number of classes in {data.name} (give --k to choose another)")
    if known is not None:
        if known.skipped and main:
            _print_skipped(known.skipped, "among the known-class images")
        say(f"known classes: {len(known)} labelled images of {cfg.encoder.n_known} classes ({known.name})")
    k_estimate = None
    if args.k == "auto" and run is None:
        from .methods.pipeline import validate
        from .methods.probe_k import estimate_k

        # A setting that cannot train fails before the estimate trains anything (k is checked once estimated).
        validate(merge(cfg, {"method": {"n_clusters": 2}}), data, known)
        # Every process estimates (the probe estimate trains, and training under torchrun takes them all);
        # process 0's estimate is used by all: a near-tie decided differently would give models of different shapes.
        try:
            k_estimate = dist.broadcast_object(estimate_k(cfg, data, known, echo=say))
        except KeyboardInterrupt:
            say("\ninterrupted while estimating k: no run was started, nothing is saved", file=sys.stderr)
            return 130
        cfg = merge(cfg, {"method": {"n_clusters": k_estimate.k}})
        say(k_estimate.describe())
    elif args.k is None and not args.resume and args.cmd == "cluster":
        say(f"k={cfg.method.n_clusters} (--k N to choose, --k auto to estimate it from the images)")
    if run is None:
        from .methods.pipeline import validate

        validate(cfg, data, known)  # fail before creating a run folder
        if main:
            run = RunDir.create(cfg)
            run.write_config(cfg)
            # the known-class folder's skipped files too, marked as such (they are printed above with the others)
            run.write_skipped(list(data.skipped) + [(f, f"in the known-class folder: {why}")
                                                    for f, why in (known.skipped if known is not None else [])])
            if k_estimate is not None:
                run.write_k_estimate(k_estimate.to_dict())
        run = RunDir(Path(dist.broadcast_object(str(run.path) if run is not None else None)))
    say(f"run folder: {run.path}")
    say(f"{cfg.method.name} on {data.name}: {len(data)} images of {tuple(data.images.shape[1:])}, "
        f"k={cfg.method.n_clusters}")
    try:
        res = fit(cfg, data, run=run, resume=bool(args.resume), echo=say, known=known)
    except KeyboardInterrupt:
        if run.checkpoint_path.exists():
            say(f"\ninterrupted: continue with  deepclust {args.cmd} --resume {run.path}", file=sys.stderr)
        else:
            say(f"\ninterrupted before the first checkpoint (every {cfg.train.checkpoint_interval} steps): "
                f"nothing is saved yet; --resume {run.path} starts again from step 0", file=sys.stderr)
        return 130
    if not main:
        return 0
    result = write_outputs(run, cfg, data, res)
    if res.metrics:
        print("  ".join(f"{k.upper()} {v:.4f}" for k, v in res.metrics.items()))
    print(f"cluster sizes: {result['cluster_sizes']}   time {res.wall_s:.1f} s on {res.device}")
    if result.get("warning"):
        print(f"warning: {result['warning']}", file=sys.stderr)
    print(f"assignments: {run.path / 'assignments.csv'}")
    if (run.path / "model.safetensors").exists():
        print(f"model:       {run.path / 'model.safetensors'}  (deepclust predict {run.path} MORE_PHOTOS/)")
    if not args.no_report:
        from .report import write_report

        print(f"report:      {write_report(run.path)}")
    return 0


def _print_skipped(skipped, where: str) -> None:
    from .data.folder import printable_name

    print(f"skipped {len(skipped)} unreadable file(s):", file=sys.stderr)
    for f, why in skipped[:20]:
        print(f"  {printable_name(f)}: {why}", file=sys.stderr)
    if len(skipped) > 20:
        print(f"  ... and {len(skipped) - 20} more ({where})", file=sys.stderr)


def _need_folder(path: str, fix: str) -> None:
    """A folder the user named must exist and be a folder: one line saying which, and `fix`."""
    if not Path(path).is_dir():
        what = "is not a folder" if Path(path).exists() else "does not exist"
        raise UserError(f"'{path}' {what}: {fix}")


def _check_resume(args, cfg, data_name: str | None):
    """A resumed run keeps its saved settings: a folder or k given beside --resume must agree with them."""
    from .config import merge

    if args.k == "auto":
        raise UserError(f"--k auto: the run in {args.resume} already clusters into k={cfg.method.n_clusters}; "
                        f"resume without --k, or start a new run")
    if args.k is not None and args.k != cfg.method.n_clusters:
        raise UserError(f"--k {args.k}: the run in {args.resume} clusters into k={cfg.method.n_clusters}; "
                        f"resume without --k, or start a new run")
    # Settings beside --resume would be silently ignored (the run keeps its config.yaml): refuse them.
    given = [flag for flag, value in (("--set", args.set), ("--config", args.config), ("--seed", args.seed),
                                      ("--augment", args.augment), ("--method", getattr(args, "method", None)),
                                      ("--image-size", getattr(args, "image_size", None)),
                                      ("--channels", getattr(args, "channels", None)),
                                      ("--reframe", getattr(args, "reframe", None)),
                                      ("--profile", getattr(args, "profile", None))) if value not in (None, [], "")]
    if given:
        raise UserError(f"{', '.join(given)} cannot change a run being resumed (it keeps the settings in "
                        f"{Path(args.resume) / 'config.yaml'}): resume without {' / '.join(given)}, or start a new run")
    if getattr(args, "known", None):
        known = str(Path(args.known).resolve())
        if cfg.data.known is None:
            raise UserError(f"--known: the run in {args.resume} learns from no known classes; resume without --known")
        if Path(cfg.data.known) != Path(known):
            if Path(cfg.data.known).exists():
                raise UserError(f"--known {args.known}: the run in {args.resume} learns from {cfg.data.known}; "
                                f"resume without --known, or start a new run")
            print(f"the run's known folder {cfg.data.known} no longer exists: reading {known}", file=sys.stderr)
            cfg = merge(cfg, {"data": {"known": known}})
    saved_name = str(cfg.data.name)
    builtin = saved_name.strip().lower() in DATASETS
    how = "deepclust cluster NEW_PATH" if args.cmd == "cluster" else "deepclust fit --data NEW_PATH"
    if data_name is None:
        if not builtin and not Path(saved_name).expanduser().exists():
            where = ("no longer exists" if Path(saved_name).is_absolute() else
                     "was given relative to the directory the run started in, and is not here")
            raise UserError(f"the run in {args.resume} reads the folder {saved_name}, which {where}: name it, "
                            f"{how} --resume {args.resume}")
        return cfg
    given = args.folder if args.cmd == "cluster" else f"--data {args.data}"
    without = "a folder" if args.cmd == "cluster" else "--data"
    if builtin or data_name.strip().lower() in DATASETS:
        if data_name.strip().lower() != saved_name.strip().lower():
            raise UserError(f"{given}: the run in {args.resume} trains on {saved_name}; resume without "
                            f"{without}, or start a new run")
        return cfg
    saved = Path(saved_name)
    if saved.is_absolute() and saved != Path(data_name):
        if not saved.exists():  # the folder moved: the new location is where to read it
            print(f"the run's folder {saved} no longer exists: reading {data_name}", file=sys.stderr)
            return merge(cfg, {"data": {"name": data_name}})
        raise UserError(f"{given}: the run in {args.resume} clusters {saved}; resume without "
                        f"{without}, or start a new run")
    if not saved.is_absolute():  # a run folder written before folders were stored as absolute paths
        return merge(cfg, {"data": {"name": data_name}})
    return cfg


def _predict(args) -> int:
    import csv

    from .data import load_folder
    from .data.folder import printable_name
    from . import novelty
    from .methods.pipeline import load_model, load_novelty, soft_assign

    _need_folder(args.folder, "give the folder that holds the new images")
    folder = Path(args.folder).resolve()
    # the run before the output path: a missing or broken RUN_DIR is the problem to name, not a path inside it
    cfg, model, centers, result = load_model(args.run_dir)
    out = Path(args.output) if args.output else Path(args.run_dir) / f"predictions-{folder.name or 'root'}.csv"
    if out.is_dir():
        raise UserError(f"--output {out} is a folder: give a file name, e.g. {out / 'predictions.csv'}")
    if not out.parent.is_dir():
        raise UserError(f"cannot write {out}: the folder {out.parent} does not exist; create it or choose "
                        f"another --output")
    c, h, w = result["image_shape"]
    # Always the folder, even one named like a built-in dataset ('digits/').
    data = load_folder(folder, image_size=h, channels=c, reframe=cfg.data.reframe)  # cropped as the training images
    skipped_out = out.with_name(out.stem + "-skipped.csv")
    if data.skipped:
        _print_skipped(data.skipped, f"all in {skipped_out}")
    z = model.embed(data.images)
    labels, conf, dist = soft_assign(z, centers, cfg.method.alpha, getattr(model.ae, "label_features", False))
    reference = load_novelty(args.run_dir)
    if reference is not None:  # how unlike the training images each image is (deepclust.novelty)
        nov = novelty.score(model, data.images, reference).numpy()
        thr = float(reference["novelty.threshold"][0])
        how = "less like the training images than 99% of them"
    else:  # a run written before the novelty reference: the distance to the centre, as then
        nov, thr = dist, float(result.get("outlier_distance", float("inf")))
        how = "farther from their centre than 99% of the training images"
    with open(out, "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(["file", "cluster", "confidence", "distance", "novelty", "fits"])
        for i, name in enumerate(data.names):
            wr.writerow([printable_name(name), int(labels[i]), f"{conf[i]:.4f}", f"{dist[i]:.4f}",
                         f"{nov[i]:.4f}", "yes" if nov[i] <= thr else "no"])
    if data.skipped:  # as the run's own skipped.csv
        from .train.rundir import write_skipped_csv

        write_skipped_csv(skipped_out, data.skipped)
    n_out = int((nov > thr).sum())
    print(f"{len(data)} images assigned; {n_out} fit no cluster ({how})")
    print(f"predictions: {out}")
    if data.skipped:
        print(f"skipped:     {skipped_out}")
    return 0


def _list() -> int:
    from . import data as data_mod
    from .registry import ENCODERS, LOSSES, METHODS, REFRESHERS

    print("methods:")
    width = max(len(n) for n in METHODS.names())
    for name, r in METHODS.items():
        print(f"  {name:<{width}} {r.summary}")
    print("encoders:   " + ", ".join(ENCODERS.names()))
    print("losses:     " + ", ".join(LOSSES.names()))
    print("refreshers: " + ", ".join(REFRESHERS.names()))
    from .augment import AUGMENTATIONS

    print("augment:    " + ", ".join(AUGMENTATIONS.names()) + "  (per stage: --set pretrain.augment=heritage)")
    print("datasets:   " + ", ".join(data_mod.DATASETS) + ", or any folder of images")
    from .bench.tables import TABLES

    print("bench:      " + ", ".join(sorted(TABLES)))
    return 0


def _bench(args) -> int:
    from .bench import runner

    # flags these would silently ignore: a report shows every profile and variant, curves draw what ran
    if args.table == "report" and (args.set or args.variant):
        raise UserError(f"deepclust bench report does not take {'--set' if args.set else '--variant'}: "
                        "it reports every profile and variant the table has")
    if args.table == "curves" and args.set:
        raise UserError("deepclust bench curves does not take --set: name the variant to draw with --variant")
    if args.table == "report":
        if not args.rest:
            raise UserError("deepclust bench report needs a table name, e.g. deepclust bench report gapdcec-table1")
        text = runner.report(args.rest[0], results=args.results)
        if args.into:
            runner.write_into(Path(args.into), args.rest[0], text)
            print(f"updated the {args.rest[0]} block of {args.into}")
        else:
            print(text)
        return 0
    if args.table == "curves":
        if not args.rest:
            raise UserError("deepclust bench curves needs a table name, e.g. deepclust bench curves stdac-table2")
        from .bench import curves

        folder = runner.profile_folder(args.profile, args.variant)
        for path in curves.write(args.rest[0], profile=folder, results=args.results):
            print(path)
        return 0
    from .config import parse_sets

    runner.run(args.table, profile=args.profile, seeds=args.seeds, rows=args.rows, datasets=args.datasets,
               results=args.results, data_root=args.data_root, device=args.device, sets=parse_sets(args.set),
               variant=args.variant)
    return 0


def main(argv: list[str] | None = None) -> int:
    import warnings

    from . import methods, nets, objectives, refresh  # noqa: F401  (registries)

    # A warning for the user reads as one line, without the source line it was raised from.
    warnings.formatwarning = lambda message, category, *rest, **kw: f"warning: {message}\n"
    args = build_parser().parse_args(argv)
    try:
        if hasattr(args, "k"):
            args.k = _k_arg(args.k)
        if args.cmd == "cluster":
            if args.folder is None and not args.resume:
                raise UserError("give the folder that holds your images: deepclust cluster PHOTOS/ --k 10")
            folder = None
            if args.folder is not None:
                _need_folder(args.folder, "give the folder that holds your images")
                # Stored absolute: --resume works from any directory, and a folder named like a built-in
                # dataset ('digits/') is read as the folder it is.
                folder = str(Path(args.folder).resolve())
            return _train(args, folder, FOLDER_METHOD, FOLDER_IMAGE_SIZE)
        if args.cmd == "fit":
            data = args.data
            if data is not None and data.strip().lower() not in DATASETS and Path(data).expanduser().exists():
                data = str(Path(data).expanduser().resolve())  # a folder, stored absolute as `cluster` does
            return _train(args, data if (data is not None or args.resume) else "digits", "dec", None)
        if args.cmd == "predict":
            return _predict(args)
        if args.cmd == "list":
            return _list()
        if args.cmd == "report":
            from .report import write_report

            if not (Path(args.run_dir) / "config.yaml").is_file():
                what = "does not exist" if not Path(args.run_dir).exists() else "is not a run folder (no config.yaml)"
                raise UserError(f"'{args.run_dir}' {what}: give a folder printed by deepclust cluster or fit")
            print(write_report(Path(args.run_dir)))
            return 0
        if args.cmd == "bench":
            return _bench(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # while reading images or before a run started: nothing to save, no traceback
        print("\ninterrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a file the run must write or read: permissions, a full disk, a vanished folder
        where = f": {e.filename}" if e.filename else ""
        print(f"error: {e.strerror or e}{where}; check that the folder exists and is writable, or choose "
              f"another place (--out for runs, --output for predictions)", file=sys.stderr)
        return 2
    finally:
        from .train import dist

        dist.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
