"""One source for what a setting is: every StyleConfig field's Setting builds its CLI flag and
its studio form entry."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import typing
from enum import Enum
from pathlib import Path

import pytest

import impasto
from impasto import cli
from impasto.config import GROUPS, Setting, StyleConfig, flag_of, help_text, setting, setting_of
from impasto.errors import ConfigError
from impasto.web.form import NOT_IN_STUDIO, form_fields

FIELDS = dataclasses.fields(StyleConfig)
NAMES = [f.name for f in FIELDS]


def _flags(command: str) -> dict[str, argparse.Action]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in sub.choices[command]._actions}


def test_every_field_has_a_setting() -> None:
    for f in FIELDS:
        meta = setting_of(f)
        assert isinstance(meta, Setting), f.name
        assert meta.group in GROUPS, f.name
        assert meta.help and "\n" not in meta.help, f.name


@pytest.mark.parametrize("command", ["stylize", "texture"])
def test_every_field_has_a_flag(command: str) -> None:
    actions = _flags(command)
    for f in FIELDS:
        if command == "texture" and setting_of(f).content_only:
            assert f.name not in actions, f.name
            continue
        action = actions[f.name]
        assert action.option_strings == [flag_of(f.name)]
        assert action.default is None  # a flag not given leaves StyleConfig's default
        assert help_text(f) in str(action.help)


def test_texture_leaves_out_only_the_content_only_fields() -> None:
    assert {f.name for f in FIELDS if setting_of(f).content_only} == {
        "photo_weight",
        "photo_epsilon",  # the photorealism term's: a texture has no photo
        "preserve_color",
    }
    assert cli.FIELDS == tuple(NAMES)


def test_every_field_is_in_the_form_or_excluded_on_purpose() -> None:
    names = [entry["name"] for entry in form_fields()]
    assert names == [n for n in NAMES if n not in NOT_IN_STUDIO]
    assert set(NOT_IN_STUDIO) <= set(NAMES)
    assert all(reason for reason in NOT_IN_STUDIO.values())
    shown = [f for f in FIELDS if f.name not in NOT_IN_STUDIO]
    for entry, f in zip(form_fields(), shown, strict=True):
        assert entry["help"] == help_text(f)
        assert entry["main"] is setting_of(f).main


def test_enum_fields_offer_their_enum() -> None:
    hints = typing.get_type_hints(StyleConfig)
    for f in FIELDS:
        tp = hints[f.name]
        if isinstance(tp, type) and issubclass(tp, Enum):
            assert setting_of(f).choices == tuple(m.value for m in tp), f.name


def test_help_reads_well_outside_a_terminal() -> None:
    """No flag syntax or README pointers: the same words show on the studio page."""
    for f in FIELDS:
        text = setting_of(f).help
        assert "--" not in text and "README" not in text, f.name


def test_cli_help_shows_choices_and_defaults() -> None:
    actions = _flags("stylize")
    assert actions["optimizer"].help == "lbfgs|adam: how the pixels are optimised (default lbfgs)"
    assert str(actions["init"].help).startswith("palette|content|noise|blur or an image path: ")
    assert actions["size"].type is int and actions["lr"].type is float
    assert actions["steps"].type is None and actions["final_steps"].type is int


def test_setting_refuses_an_unknown_group() -> None:
    with pytest.raises(ConfigError, match="unknown settings group 'sizes'"):
        setting("x", group="sizes")


def test_the_form_does_not_import_the_cli() -> None:
    """The studio reads the settings from config.py, not from the command line's parser."""
    src = Path(impasto.__file__).parent / "web" / "form.py"
    tree = ast.parse(src.read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert not any(m == "impasto.cli" or m.startswith("impasto.cli.") for m in imported)


def test_audio_flags_and_form_come_from_the_fields() -> None:
    """AudioConfig's fields carry the same metadata: ``impasto audio``'s flags and the studio's
    audio form are generated from it (no help written in a shell)."""
    from impasto.audio.config import AudioConfig
    from impasto.web.sounds import NOT_IN_FORM, audio_form_fields

    actions = _flags("audio")
    form = {entry["name"]: entry for entry in audio_form_fields()}
    for f in dataclasses.fields(AudioConfig):
        assert isinstance(setting_of(f), Setting), f.name
        assert actions[f.name].option_strings == [flag_of(f.name)]
        assert actions[f.name].default is None
        assert help_text(f) in str(actions[f.name].help)
        assert f.name in NOT_IN_FORM or form[f.name]["help"] == help_text(f)
    assert [n for n in form] == [f.name for f in dataclasses.fields(AudioConfig)
                                 if f.name not in NOT_IN_FORM]  # fmt: skip
