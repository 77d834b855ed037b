"""Augmentation geometry on an image with a known shape: one bright pixel moved by known maps."""
import pytest
import torch

from deepclust.augment import AUGMENTATIONS, RandomAffine, forward_matrices, warp
from deepclust.errors import UserError


def dot(row, col, size=9):
    x = torch.zeros(1, 1, size, size)
    x[0, 0, row, col] = 1.0
    return x


def where(img):
    i = int(img.flatten().argmax())
    return divmod(i, img.shape[-1])


def move(x, angle=0.0, shear=0.0, scale=1.0, shift=(0.0, 0.0), flip=False):
    f = forward_matrices(torch.tensor([angle]), torch.tensor([shear]), torch.tensor([scale]),
                         torch.tensor([shift]), torch.tensor([flip]))
    return warp(x, f)


def test_identity_returns_the_image():
    x = torch.rand(3, 2, 9, 9)
    assert torch.allclose(move(x[:1]), x[:1], atol=1e-6)


def test_rotation_90_counter_clockwise_moves_right_to_top():
    out = move(dot(4, 7), angle=90.0)
    assert where(out) == (1, 4)
    assert out.max() > 0.99  # a pixel-exact move, no blur


def test_shift_scale_flip_shear():
    assert where(move(dot(4, 4), shift=(1 / 9, 0.0))) == (4, 5)  # one pixel to the right
    assert where(move(dot(4, 8), scale=0.5)) == (4, 6)  # halfway towards the centre
    assert where(move(dot(4, 7), flip=True)) == (4, 1)  # mirrored
    assert where(move(dot(8, 4), shear=45.0)) == (8, 8)  # x' = x + tan(45°)·y


def test_batch_gets_per_sample_parameters_on_one_warp():
    x = torch.rand(1, 1, 16, 16).repeat(8, 1, 1, 1)
    g = torch.Generator().manual_seed(0)
    out = AUGMENTATIONS.get("heritage")(x, generator=g)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert len({round(float(v), 4) for v in out.sum((1, 2, 3))}) == 8  # all eight differ
    g2 = torch.Generator().manual_seed(0)
    assert torch.equal(out, AUGMENTATIONS.get("heritage")(x, generator=g2))  # seeded -> reproducible


@pytest.mark.parametrize("kwargs, message", [
    ({"shear": 89.5}, "shear"), ({"scale": (0.0, 1.0)}, "scale"), ({"scale": (1.0, 0.5)}, "scale"),
    ({"rotation": (10.0, -10.0)}, "rotation"), ({"hflip": 2.0}, "hflip"),
    ({"scale": (0.5, float("nan"))}, "finite"), ({"rotation": (0.0, float("inf"))}, "finite"),
    ({"scale": (0.5, float("inf"))}, "finite"), ({"shift": float("nan")}, "finite"),
])
def test_impossible_ranges_fail_clearly(kwargs, message):
    with pytest.raises(UserError, match=message):
        RandomAffine(**kwargs)


def test_presets_exist_and_unknown_name_is_clear():
    assert set(AUGMENTATIONS.names()) >= {"heritage", "rot", "shear", "scale", "dec-da"}
    with pytest.raises(UserError, match="unknown augmentation 'nope'"):
        AUGMENTATIONS.get("nope")


def test_crop_never_mirrors_and_crop_flip_does_half_the_time():
    """`crop` keeps left on the left; `crop-flip` (DeepCluster's, the folder default) mirrors about half the images."""
    x = torch.zeros(400, 1, 32, 32)
    x[:, :, 8:24, 6:10] = 1.0  # a bar left of centre: zooms ≤ 1.5x and shifts ≤ 15 % keep it in the frame, left
    cols = torch.arange(32.0)

    def left(out: torch.Tensor) -> torch.Tensor:
        mass = out.sum(dim=(1, 2))  # N×W
        assert (mass.sum(1) > 0).all()  # the bar never leaves the frame
        return (mass * cols).sum(1) / mass.sum(1) < 15.5

    g = torch.Generator().manual_seed(0)
    assert left(AUGMENTATIONS.get("crop")(x, generator=g)).all()
    share = left(AUGMENTATIONS.get("crop-flip")(x, generator=g)).float().mean().item()
    assert 0.4 < share < 0.6
