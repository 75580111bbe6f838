"""The page's settings form, described from :class:`StyleConfig` itself.

The page builds its inputs from this description (``GET /api/config``): defaults, choices,
labels and help are read from each field and its :class:`impasto.config.Setting`, the same
source the command line's flags are built from.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from functools import lru_cache
from typing import Any

from typing_extensions import NotRequired, TypedDict  # pydantic reads it (Python < 3.12)

from impasto.api import PHOTO_DEFAULTS, check_settings, photo_config
from impasto.config import Init, StyleConfig, help_text, setting_of
from impasto.errors import ConfigError
from impasto.jsontypes import JSONObject
from impasto.layers import LAYER_NAMES, LAYER_PRESETS

# Fields that need an input the studio does not take yet; left at their defaults. Every other
# StyleConfig field is in the form (tests/unit/test_settings.py pins it).
NOT_IN_STUDIO: dict[str, str] = {
    "coarse_from": "scale mix needs a second, coarse style image",
    "device": "every job runs on the device given to `impasto serve --device`",
    "upscale": "a finished picture's card has Enlarge 4x (impasto stylize --upscale is the CLI's)",
    "upscale_finetune": "only with upscale, which the studio leaves to Enlarge 4x",
}


class FieldKind(TypedDict):
    """A field's type as the page needs it."""

    kind: str  # int, float, bool, choice, text or list
    nullable: bool
    choices: NotRequired[list[str]]  # a choice's values; a layer list's layer names
    item: NotRequired[str]  # a list's items: int, float, str or layer
    presets: NotRequired[dict[str, list[str]]]  # a layer list's named presets


class FormField(FieldKind):
    """One input of a settings form (``GET /api/config`` and each mode's config list them)."""

    name: str
    label: str
    default: Any  # as the settings class's to_dict writes it
    help: str
    main: bool  # shown at once; else under "Advanced settings"


def _label(f: dataclasses.Field[Any]) -> str:
    return setting_of(f).label or f.name.replace("_", " ").capitalize()


def _describe(tp: Any) -> FieldKind:
    """A field's type as the page needs it: kind, nullable, choices."""
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        nullable = len(rest) < len(args)
        if len(rest) == 1:
            spec = _describe(rest[0])
            spec["nullable"] = nullable or spec.get("nullable", False)
            return spec
        # e.g. int | tuple[int, ...] (steps): typed as text, parsed by StyleConfig.
        return {"kind": "list", "item": "int", "nullable": nullable}
    if origin is tuple:
        item = args[0] if args else str
        return {"kind": "list", "item": getattr(item, "__name__", "str"), "nullable": False}
    if isinstance(tp, type) and issubclass(tp, Enum):
        return {"kind": "choice", "choices": [m.value for m in tp], "nullable": False}
    if tp is bool:
        return {"kind": "bool", "nullable": False}
    if tp is int:
        return {"kind": "int", "nullable": False}
    if tp is float:
        return {"kind": "float", "nullable": False}
    return {"kind": "text", "nullable": False}


def _spec(f: dataclasses.Field[Any], tp: Any) -> FieldKind:
    """The field's kind and choices: from its type, narrowed by its Setting."""
    meta = setting_of(f)
    spec = _describe(tp)
    if meta.layers and spec["kind"] == "list":
        spec["item"] = "layer"
        spec["choices"] = list(LAYER_NAMES)
        if meta.presets:
            spec["presets"] = {k: list(v) for k, v in LAYER_PRESETS.items()}
    elif meta.layers:
        spec = {"kind": "choice", "choices": list(LAYER_NAMES), "nullable": False}
    elif meta.choices and spec["kind"] == "text":
        # A field that also takes something else (init: an image path) offers its keywords
        # only: the studio never lets a client name a path (see build_config).
        spec = {"kind": "choice", "choices": list(meta.choices), "nullable": False}
    return spec


def settings_form(cls: type, leave_out: Mapping[str, str]) -> list[FormField]:
    """One entry per field of the settings dataclass ``cls`` (but ``leave_out``'s): name,
    label, kind, nullable, choices, default, help, main; all read from the field and its
    Setting. The studio's forms (StyleConfig's, Instant mode's ApplyConfig's) are built from
    these."""
    hints = typing.get_type_hints(cls)
    defaults = cls().to_dict()
    return [
        {
            "name": f.name,
            "label": _label(f),
            **_spec(f, hints[f.name]),
            "default": defaults[f.name],
            "help": help_text(f),
            "main": setting_of(f).main,
        }
        for f in dataclasses.fields(cls)
        if f.name not in leave_out
    ]


@lru_cache(maxsize=1)
def form_fields() -> list[FormField]:
    """StyleConfig's form (but NOT_IN_STUDIO): see :func:`settings_form`."""
    return settings_form(StyleConfig, NOT_IN_STUDIO)


@lru_cache(maxsize=1)
def photo_form_fields() -> list[FormField]:
    """Photo mode's form: StyleConfig's, with photo mode's defaults (:func:`photo_defaults`,
    as ``impasto photo --help`` shows them), the settings photo mode changes shown at once."""
    defaults = photo_defaults()
    fields = {f.name: f for f in dataclasses.fields(StyleConfig)}
    out: list[FormField] = []
    for f in form_fields():
        name = f["name"]
        if name in PHOTO_DEFAULTS:
            text = help_text(fields[name], PHOTO_DEFAULTS[name])
            f = {**f, "default": defaults[name], "help": text, "main": True}
        out.append(f)
    return out


@lru_cache(maxsize=1)
def photo_defaults() -> JSONObject:
    """The settings of :func:`impasto.api.photo_config` as JSON, those the studio takes."""
    return {k: v for k, v in photo_config().to_dict().items() if k not in NOT_IN_STUDIO}


def build_config(
    data: Any,
    *,
    max_size: int,
    max_steps: int,
    device: str = "auto",
    defaults: JSONObject | None = None,
) -> StyleConfig:
    """The studio's StyleConfig from a client's JSON object, within the studio's limits; a
    field it leaves out takes its value from ``defaults`` (photo mode's), else StyleConfig's.

    Raises ConfigError naming the bad value (the page shows it as is).
    """
    if not isinstance(data, dict):
        raise ConfigError("config must be a JSON object of StyleConfig fields")
    if defaults is not None:
        data = {**defaults, **data}
    if "device" in data:
        raise ConfigError(f"device: {NOT_IN_STUDIO['device']}")
    init = data.get("init")  # absent: the config's default
    keywords = [m.value for m in Init]
    if init is not None and (not isinstance(init, str) or init.lower() not in keywords):
        raise ConfigError(f"init must be one of {', '.join(keywords)} in the studio, got {init!r}")
    _check_json_types(data)
    try:
        cfg = StyleConfig.from_dict(data)
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError) as e:  # a JSON type the checks missed
        raise ConfigError(f"bad config: {e}") from None
    if cfg.size > max_size:
        raise ConfigError(f"size must be at most {max_size} px in this studio, got {cfg.size}")
    if cfg.total_steps > max_steps:
        raise ConfigError(
            f"steps must be at most {max_steps} in all in this studio, got {cfg.total_steps}"
        )
    cfg = cfg.replace(device=device)
    return check_settings(cfg)  # the step plan too: refused at submission, not when it runs


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "choice": (str,),
    "text": (str,),
    "list": (str, list),  # "relu1_1,relu2_1" or a JSON list; StyleConfig parses both
}


def _check_json_types(data: JSONObject) -> None:
    """Name the field when a value has the wrong JSON type (StyleConfig checks the values)."""
    for f in form_fields():
        if f["name"] not in data:
            continue
        value = data[f["name"]]
        if value is None and f["nullable"]:
            continue
        allowed = _JSON_TYPES[f["kind"]]
        if f["kind"] == "list" and f.get("item") == "int":
            allowed = (int, str, list)  # steps: a total or one count per scale
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            raise ConfigError(f"{f['name']} has the wrong type: {value!r}")
