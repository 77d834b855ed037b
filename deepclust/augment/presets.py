"""Named augmentations. `heritage` follows Kudari et al. §4.1 (rotation over 90°, shear up to 50°,
scale 0.5–1.0; ranges read as Keras' symmetric rotation_range/shear_range); `rot`, `shear`, `scale`
are its parts one at a time (their Table 2); `dec-da` is DEC-DA's (rotation ±10°, shifts 10%);
`dac` is DAC's (and ST-DAC's); `crop-flip` stands for DeepCluster's random resized crop and flip, `crop` for
the crop alone (measured on USPS as a folder, 3 seeds: 0.756 ACC against crop-flip's 0.796, so the mirror
images do digits no harm there; README "Which method and size for photos")."""
from __future__ import annotations

from ..registry import Registry
from .affine import RandomAffine

AUGMENTATIONS = Registry("augmentation")

for _name, _aug in {
    "heritage": RandomAffine(rotation=(-90.0, 90.0), shear=50.0, scale=(0.5, 1.0)),
    "rot": RandomAffine(rotation=(-90.0, 90.0)),
    "shear": RandomAffine(shear=50.0),
    "scale": RandomAffine(scale=(0.5, 1.0)),
    "dec-da": RandomAffine(rotation=(-10.0, 10.0), shift=0.1),
    # DAC's ImageDataGenerator: rotation 10°, shifts 10%, zoom 0.95-1.05 (its channel shift is not geometric; left out)
    "dac": RandomAffine(rotation=(-10.0, 10.0), shift=0.1, scale=(0.95, 1.05)),
    # DeepCluster's RandomResizedCrop + horizontal flip, as one warp: zoom in up to 1.5x (a crop of at
    # least 2/3 of the side) anywhere within ±15 % of the centre, mirrored half the time. For photos.
    "crop-flip": RandomAffine(scale=(1.0, 1.5), shift=0.15, hflip=0.5),
    "crop": RandomAffine(scale=(1.0, 1.5), shift=0.15),
}.items():
    AUGMENTATIONS.register(_name)(_aug)
