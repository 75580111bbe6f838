"""VGG19's layer table: the names every other module uses for its layers. Pure data; imports
nothing from impasto, so both the settings (config.py) and the network (features/) sit on it.
"""

from __future__ import annotations

# VGG19's convolutional part (Simonyan & Zisserman 2014, configuration E): blocks of 3x3 convs,
# each followed by a ReLU, and a 2x2 pooling after every block. Layer names follow the
# convention of the style transfer literature: conv{block}_{i}, relu{block}_{i}, pool{block}.
VGG19_BLOCKS: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for b, (_, n) in enumerate(VGG19_BLOCKS, start=1):
        for i in range(1, n + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return tuple(names)


LAYER_NAMES: tuple[str, ...] = _layer_names()

# The paper's choices (Gatys et al. 2016, section 3 and figure 2).
DEFAULT_CONTENT_LAYERS: tuple[str, ...] = ("relu4_2",)
DEFAULT_STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")

# Named style-layer sets reproducing the paper's figure 3 rows: style from relu1_1 only, up to
# relu2_1, ... up to relu5_1.
LAYER_PRESETS: dict[str, tuple[str, ...]] = {
    f"upto{k}": DEFAULT_STYLE_LAYERS[:k] for k in range(1, len(DEFAULT_STYLE_LAYERS) + 1)
}
