"""api.check_photo: photo()'s input checks before any work (the studio makes them when a photo
job is submitted): the same refusals, with the same messages, as photo() itself, and no
network loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_photo import BLUE, GREEN, RED, _save, pair  # noqa: F401 (pair: the fixture)

from impasto import ConfigError, InvalidImageError, photo, photo_config
from impasto.api import check_photo


def bad_inputs(files: dict[str, Path], tmp_path: Path) -> list[dict[str, Path | None]]:
    wide = np.zeros((48, 96, 3))
    wide[:, :48] = RED
    green = np.zeros((48, 48, 3))
    green[:24], green[24:] = GREEN, BLUE
    (tmp_path / "text.png").write_text("not an image")
    maps: dict[str, Path | None] = {
        "content_mask": files["photo_map"],
        "style_mask": files["reference_map"],
    }
    return [
        {**maps, "content_mask": _save(wide, tmp_path / "wide.png")},  # another aspect ratio
        {**maps, "content_mask": _save(green, tmp_path / "green.png")},  # no green in the ref
        {**maps, "style_mask": tmp_path / "text.png"},  # not an image
        {**maps, "style_mask": None},  # one map
        {**maps, "content_mask": None},
    ]


def test_check_photo_refuses_as_photo_does(pair, tmp_path: Path) -> None:  # noqa: F811
    for maps in bad_inputs(pair, tmp_path):
        with pytest.raises((ConfigError, InvalidImageError)) as checked:
            check_photo(pair["photo"], pair["reference"], **maps)
        # photo() refuses before it loads any network: a weight file that is not there is
        # never read.
        with pytest.raises((ConfigError, InvalidImageError)) as ran:
            photo(pair["photo"], pair["reference"], weights=tmp_path / "none.pt", **maps)
        assert type(checked.value) is type(ran.value), maps
        assert str(checked.value) == str(ran.value), maps


def test_check_photo_passes_good_inputs_and_gives_the_settings(pair) -> None:  # noqa: F811
    maps = {"content_mask": pair["photo_map"], "style_mask": pair["reference_map"]}
    assert check_photo(pair["photo"], pair["reference"], **maps) == photo_config()
    assert check_photo(pair["photo"], pair["reference"]) == photo_config()
    cfg = photo_config(size=64, steps=8)
    assert check_photo(pair["photo"], pair["reference"], cfg) is cfg
    with pytest.raises(ConfigError, match="final_steps"):
        check_photo(pair["photo"], pair["reference"], photo_config(steps=4, final_steps=9))
