"""data.reframe=object: each photo cropped to the square around its object before it is shrunk."""
import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deepclust.data import load_dataset
from deepclust.data.reframe import crop_square, object_box, object_square
from deepclust.errors import UserError


def scene(rng, shape: str, h=72, w=96, colour=False):
    """A disk or a bar of 18-28 px, somewhere in the frame, on a grey level plus a gradient plus noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    level = rng.uniform(30, 170)
    bg = level + rng.uniform(-30, 30) * (xx / w - 0.5) + rng.uniform(-30, 30) * (yy / h - 0.5) + rng.normal(0, 3, (h, w))
    s = int(rng.integers(18, 29))
    top, left = int(rng.integers(2, h - s - 2)), int(rng.integers(2, w - s - 2))
    cy, cx = top + s / 2, left + s / 2
    if shape == "disk":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= (s / 2) ** 2
    else:  # a bar as tall as the disk is wide, a third as wide
        mask = (np.abs(yy - cy) <= s / 2) & (np.abs(xx - cx) <= s / 6)
    img = np.where(mask, 255.0, bg)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if colour:
        img = np.stack([img, img // 2, 255 - img], -1)
    return img, (top, left, top + s, left + s)


def test_object_box_finds_the_object_on_a_graded_background():
    rng = np.random.default_rng(0)
    for i in range(10):
        img, (t, l, b, r) = scene(rng, "disk" if i % 2 else "bar", colour=i >= 5)
        box = object_box(img)
        assert box is not None
        bt, bl, bb, br = box
        cy, cx = (bt + bb) / 2, (bl + br) / 2
        assert abs(cy - (t + b) / 2) <= 3 and abs(cx - (l + r) / 2) <= 3  # centred on the object
        assert bb - bt <= (b - t) + 4  # and about its height (a bar is narrower than its box)


def test_no_box_where_nothing_stands_out():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:64, 0:80]
    plain = np.clip(100 + 0.5 * xx - 0.3 * yy + rng.normal(0, 3, (64, 80)), 0, 255).astype(np.uint8)
    assert object_box(plain) is None
    assert object_box(np.zeros((6, 6), np.uint8)) is None  # too small to have a border band
    im = Image.fromarray(plain)
    assert crop_square(im, "object") == crop_square(im, "none") == (8.0, 0.0, 72.0, 64.0)  # the centre square


def test_object_square_stays_inside_the_image():
    rng = np.random.default_rng(2)
    for _ in range(10):
        img, _ = scene(rng, "disk")
        x0, y0, x1, y1 = object_square(Image.fromarray(img))
        assert 0 <= x0 < x1 <= 96 and 0 <= y0 < y1 <= 72
        assert abs((x1 - x0) - (y1 - y0)) < 1e-6 and x1 - x0 <= 72


@pytest.fixture(scope="module")
def moved_objects(tmp_path_factory):
    """40 photos: 20 disks and 20 bars, each somewhere else in the frame, on its own background."""
    root = tmp_path_factory.mktemp("moved")
    rng = np.random.default_rng(3)
    for i in range(40):
        shape = ("disk", "bar")[i % 2]
        Image.fromarray(scene(rng, shape)[0]).save(root / f"{shape}_{i:02d}.png")
    return root


def test_reframed_folder_centres_the_objects_and_k_means_separates_them(moved_objects):
    from sklearn.cluster import KMeans

    from deepclust.metrics import evaluate

    plain = load_dataset(str(moved_objects), image_size=16)
    framed = load_dataset(str(moved_objects), image_size=16, reframe="object")
    assert framed.images.shape == plain.images.shape == (40, 1, 16, 16) and framed.names == plain.names
    truth = np.array([n.startswith("bar") for n in framed.names], int)
    # The object now fills the middle of each image: its centre differs most from the image's border.
    x = framed.images.float()
    border = torch.cat([x[..., :2, :].flatten(1), x[..., -2:, :].flatten(1), x[..., 2:-2, :2].flatten(1),
                        x[..., 2:-2, -2:].flatten(1)], 1).mean(1)
    assert ((x[..., 6:10, 6:10].mean((1, 2, 3)) - border).abs() > 40).float().mean() >= 0.9

    def kmeans_acc(images):
        z = images.flatten(1).float()
        z = (z - z.mean(1, keepdim=True)) / (z.std(1, keepdim=True) + 1e-6)  # the background level drops out
        pred = KMeans(2, n_init=10, random_state=0).fit_predict(z.numpy())
        return evaluate(truth, pred)["acc"]

    assert kmeans_acc(framed.images) >= 0.9
    assert kmeans_acc(plain.images) < kmeans_acc(framed.images)


def test_reframe_is_part_of_the_cache_key_and_is_checked(moved_objects):
    plain = load_dataset(str(moved_objects), image_size=16)
    framed = load_dataset(str(moved_objects), image_size=16, reframe="object")
    assert not torch.equal(plain.images, framed.images)  # not the plain decode served from the cache
    assert torch.equal(load_dataset(str(moved_objects), image_size=16, reframe="object").images, framed.images)
    with pytest.raises(UserError, match="data.reframe must be one of none, object, isolate"):
        load_dataset(str(moved_objects), reframe="objects")


def test_builtin_images_are_reframed_like_a_folder(moved_objects):
    from deepclust.data.reframe import reframe_images

    folder = load_dataset(str(moved_objects), image_size=16, reframe="object")
    raw = torch.stack([torch.from_numpy(np.array(Image.open(moved_objects / n)))[None] for n in folder.names])
    again = reframe_images(raw, 16)
    assert again.shape == (40, 1, 16, 16)
    assert (again.int() - folder.images.int()).abs().max() <= 1  # the same crop (PNG round trip aside)


def test_cli_crops_folders_to_their_objects_by_default_and_predict_crops_the_same_way(moved_objects, tmp_path):
    from test_cli import cli, cli_here

    r = cli("cluster", moved_objects, "--k", 2, "--method", "kmeans", "--image-size", 16,  # isolate: the folder default
            "--out", tmp_path / "runs", "--no-report", "--quiet")
    assert r.returncode == 0, r.stderr
    run = Path(next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder")))
    assert "reframe: isolate" in (run / "config.yaml").read_text()
    gallery = np.load(run / "gallery.npz")["images"].astype(np.float32)  # redrawn from the photos, cropped the same way
    assert gallery.shape[1:] == (128, 128, 1)
    assert (gallery[:, 56:72, 56:72].mean((1, 2, 3)) > 240).mean() >= 0.9  # the object (255) fills the middle
    from deepclust.report import write_report

    assert "cropped to the square around its object" in write_report(run).read_text()
    r = cli("predict", run, moved_objects, "--output", tmp_path / "p.csv")
    assert r.returncode == 0, r.stderr
    train = {row["file"]: row["cluster"] for row in csv.DictReader(open(run / "assignments.csv"))}
    pred = {row["file"]: row["cluster"] for row in csv.DictReader(open(tmp_path / "p.csv"))}
    assert pred == train  # the training photos, cropped as in training, get their clusters back
    r = cli_here("cluster", "--resume", run, "--reframe", "none")  # a resumed run keeps its crop
    assert r.returncode == 2 and "--reframe cannot change a run being resumed" in r.stderr, r.stderr


def test_large_photos_and_jpegs_are_cropped_to_their_object(tmp_path):
    """The box is found on a ≤128 px copy and scaled back; a JPEG is decoded at a reduced scale first."""
    for name, (h, w), (cy, cx), r in (("big.png", (800, 1000), (200, 750), 90), ("huge.jpg", (3000, 4000), (2200, 900), 300),
                                      ("edge.png", (300, 400), (150, 30), 40)):  # the last one touches the left edge
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.where((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r, 250, 60 + 40 * xx / w).astype(np.uint8)
        Image.fromarray(img).save(tmp_path / name, quality=95)
    data = load_dataset(str(tmp_path), image_size=32, reframe="object")
    for name, img in zip(data.names, data.images):
        x = img[0].float()
        assert x[12:20, 12:20].mean() > 200, name  # the disk fills the middle
        if name != "edge.png":  # the square around a disk shows background in its corners
            assert x[:3, :3].mean() < 130 and x[-3:, -3:].mean() < 130, name
    plain = load_dataset(str(tmp_path), image_size=32)
    assert all(img[0, 12:20, 12:20].float().mean() < 200 for img in plain.images)  # the centre crop misses it


def test_load_dataset_reframes_builtins_and_known_folders(tmp_path):
    digits = load_dataset("digits", image_size=16, limit=50)
    framed = load_dataset("digits", image_size=16, limit=50, reframe="object")
    assert framed.images.shape == digits.images.shape and not torch.equal(framed.images, digits.images)
    from deepclust.data.known import load_known_folder

    rng = np.random.default_rng(4)
    for shape in ("disk", "bar"):
        (tmp_path / shape).mkdir()
        for i in range(3):
            Image.fromarray(scene(rng, shape)[0]).save(tmp_path / shape / f"{i}.png")
    like = load_dataset(str(tmp_path), image_size=16)
    known = load_known_folder(str(tmp_path), like, "object")
    again = load_dataset(str(tmp_path), image_size=16, reframe="object")
    assert torch.equal(known.images, again.images) and not torch.equal(known.images, like.images)


def test_the_estimator_refuses_reframe_for_arrays():
    from deepclust import DEC

    with pytest.raises(UserError, match="data__reframe applies where deepclust reads the image files"):
        DEC(n_clusters=2, data__reframe="object").fit(np.zeros((10, 8, 8), np.uint8))


def test_grabcut_attention_and_reframe_are_not_combined():
    from deepclust.data.known import prepare_known
    from deepclust.methods.pipeline import make_config

    cfg = make_config("dtc", overrides={"data": {"known_classes": [0, 1], "attention": "grabcut", "reframe": "object"}})
    with pytest.raises(UserError, match="use one of the two"):
        prepare_known(cfg, load_dataset("digits", limit=50))


def test_cli_grabcut_attention_gets_the_centre_crop_unless_both_are_asked_for(moved_objects, tmp_path):
    from test_cli import cli_here

    known = tmp_path / "known"
    for shape in ("disk", "bar"):
        (known / shape).mkdir(parents=True)
        for f in sorted(moved_objects.glob(f"{shape}_*.png"))[:3]:
            (known / shape / f.name).write_bytes(f.read_bytes())
    # the default crop gives way to GrabCut (the run then stops on k-means not learning from known classes)
    r = cli_here("cluster", moved_objects, "--known", known, "--method", "kmeans", "--k", 2,
                 "--set", "data.attention=grabcut", "--out", tmp_path / "runs")
    assert "photos are centre-cropped (data.reframe=none)" in r.stdout and "does not learn from them" in r.stderr
    r = cli_here("cluster", moved_objects, "--known", known, "--k", 2, "--reframe", "object",
                 "--set", "data.attention=grabcut", "--out", tmp_path / "runs")
    assert r.returncode == 2 and "use one of the two" in r.stderr, r.stderr


def test_isolate_sets_a_plain_backdrop_to_black_and_keeps_the_object():
    from deepclust.data.folder import resize_crop

    rng = np.random.default_rng(7)
    for i in range(6):
        img, _ = scene(rng, "disk", colour=i >= 3)
        im = Image.fromarray(img)
        framed = np.asarray(resize_crop(im, 32, "object")).astype(np.float32)
        isolated = np.asarray(resize_crop(im, 32, "isolate")).astype(np.float32)
        assert framed.shape == isolated.shape
        yy, xx = np.mgrid[0:32, 0:32]
        corners = (np.abs(yy - 15.5) > 13) & (np.abs(xx - 15.5) > 13)  # outside the disk, inside the square
        centre = (np.abs(yy - 15.5) < 6) & (np.abs(xx - 15.5) < 6)
        assert framed[corners].mean() > 25 and isolated[corners].max() <= 2  # the backdrop is gone
        assert np.abs(isolated[centre] - framed[centre]).max() <= 1  # the object is untouched


def test_isolate_keeps_a_scene_whose_border_is_no_plain_backdrop():
    from deepclust.data.folder import resize_crop
    from deepclust.data.reframe import isolate_mask

    rng = np.random.default_rng(8)
    yy, xx = np.mgrid[0:72, 0:96]
    busy = np.clip(110 + 60 * np.sin(xx / 3.0) * np.cos(yy / 5.0) + rng.normal(0, 25, (72, 96)), 0, 255)
    busy[20:50, 30:60] = 255  # something stands out, but the border is a texture, not a backdrop
    busy = busy.astype(np.uint8)
    assert isolate_mask(busy) is None
    im = Image.fromarray(busy)
    assert np.array_equal(np.asarray(resize_crop(im, 32, "isolate")), np.asarray(resize_crop(im, 32, "object")))
    plain, _ = scene(np.random.default_rng(9), "bar")
    assert isolate_mask(plain) is not None


def test_isolate_folder_is_cached_apart_and_reported(moved_objects, tmp_path):
    framed = load_dataset(str(moved_objects), image_size=16, reframe="object")
    isolated = load_dataset(str(moved_objects), image_size=16, reframe="isolate")
    assert not torch.equal(framed.images, isolated.images)  # not the object crop served from the cache
    assert isolated.images[:, :, 0, 0].float().mean() < 2 < framed.images[:, :, 0, 0].float().mean()
    from test_cli import cli

    r = cli("cluster", moved_objects, "--k", 2, "--method", "kmeans", "--image-size", 16, "--reframe", "isolate",
            "--out", tmp_path / "runs", "--quiet")
    assert r.returncode == 0, r.stderr
    run = Path(next(line.split(": ", 1)[1] for line in r.stdout.splitlines() if line.startswith("run folder")))
    assert "reframe: isolate" in (run / "config.yaml").read_text()
    assert "a plain backdrop set to black" in (run / "report.html").read_text()
    g = np.load(run / "gallery.npz")
    from deepclust.data.folder import decode_image

    first = decode_image(moved_objects / str(g["names"][0]), 128, 1, "isolate")
    assert np.array_equal(g["images"][0], first)  # redrawn from the photo at 128 px, isolated as trained
    assert g["images"][:, :4, :4].max() <= 2  # backdrop black


def test_isolate_is_repeatable_whatever_ran_before():
    from concurrent.futures import ThreadPoolExecutor

    from deepclust.data.reframe import isolate_mask

    rng = np.random.default_rng(10)
    imgs = [scene(rng, ("disk", "bar")[i % 2], colour=i % 3 == 0)[0] for i in range(12)]
    first = [isolate_mask(a) for a in imgs]
    with ThreadPoolExecutor(3) as pool:  # other images first, on other threads (GrabCut's generator is per thread)
        again = list(pool.map(isolate_mask, imgs[::-1]))[::-1]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_isolate_keeps_an_object_standing_on_the_frame_and_lines_up_on_wide_photos():
    from deepclust.data.folder import resize_crop

    rng = np.random.default_rng(11)
    img = np.clip(90 + rng.normal(0, 3, (160, 160)), 0, 255)
    img[60:, 50:110] = 220  # a block standing on the bottom edge
    out = np.asarray(resize_crop(Image.fromarray(img.astype(np.uint8)), 32, "isolate")).astype(np.float32)
    ref = np.asarray(resize_crop(Image.fromarray(img.astype(np.uint8)), 32, "object")).astype(np.float32)
    cols = ref[-1] > 200  # the block's columns in the bottom row of the crop
    assert cols.sum() >= 8 and np.abs(out[-1][cols] - ref[-1][cols]).max() <= 2  # its foot is not erased
    # a wide photo (the work copy is 128 × 21): the mask must sit on the object, not beside it
    wide = np.clip(60 + rng.normal(0, 3, (167, 1001)), 0, 255)
    wide[40:130, 700:790] = 240
    out = np.asarray(resize_crop(Image.fromarray(wide.astype(np.uint8)), 64, "isolate")).astype(np.float32)
    ref = np.asarray(resize_crop(Image.fromarray(wide.astype(np.uint8)), 64, "object")).astype(np.float32)
    obj = ref > 200
    assert obj.sum() > 500 and np.abs(out[obj] - ref[obj]).mean() < 10  # the object kept
    assert out[ref < 100].mean() < 10  # the backdrop gone


def test_isolate_leaves_real_scenes_alone():
    """scikit-learn's two sample photos (a pagoda among trees, a flower on leaves): no plain backdrop."""
    from sklearn.datasets import load_sample_images

    from deepclust.data.reframe import frame

    for img in load_sample_images().images:
        for mode in ("RGB", "L"):
            assert frame(Image.fromarray(img).convert(mode), "isolate")[1] is None


def test_isolate_leaves_a_black_backdrop_alone():
    """COIL-20 as shot: objects on near-black; erasing could only cut the objects' dark parts."""
    from deepclust.data.folder import resize_crop
    from deepclust.data.reframe import isolate_mask

    rng = np.random.default_rng(12)
    yy, xx = np.mgrid[0:128, 0:128]
    img = np.clip(4 + rng.normal(0, 1.5, (128, 128)), 0, 255)
    img[(yy - 64) ** 2 + (xx - 64) ** 2 <= 40 ** 2] = 200
    img[60:110, 40:88] = 10  # a dark part, reaching the object's edge
    img = img.astype(np.uint8)
    assert isolate_mask(img) is None
    im = Image.fromarray(img)
    assert np.array_equal(np.asarray(resize_crop(im, 32, "isolate")), np.asarray(resize_crop(im, 32, "object")))


def test_an_edit_of_the_reframe_code_is_never_served_old_crops(moved_objects, monkeypatch):
    import deepclust.data.folder as folder_mod

    first = load_dataset(str(moved_objects), image_size=16, reframe="isolate")
    calls = []
    real = folder_mod._decode_all
    monkeypatch.setattr(folder_mod, "_decode_all", lambda *a, **k: calls.append(1) or real(*a, **k))
    load_dataset(str(moved_objects), image_size=16, reframe="isolate")
    assert not calls  # the same code: served from the cache
    monkeypatch.setattr(folder_mod, "reframe_digest", lambda: "edited")  # the reframe source changed
    again = load_dataset(str(moved_objects), image_size=16, reframe="isolate")
    assert calls and torch.equal(again.images, first.images)  # decoded again, not served from the cache
