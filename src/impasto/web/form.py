"""The page's settings form, described from :class:`StyleConfig` itself.

The page builds its inputs from this description (``GET /api/config``), so defaults, choices
and field names live in config.py only, as they do for the command line.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum
from functools import lru_cache
from typing import Any

from impasto.config import Init, StyleConfig
from impasto.errors import ConfigError
from impasto.layers import LAYER_NAMES, LAYER_PRESETS

# The controls shown above the fold; every other field goes in the "advanced" section.
# A future colour-preservation field joins them by name (see _is_main).
MAIN_FIELDS: tuple[str, ...] = ("size", "style_weight", "steps", "seed")

LABELS: dict[str, str] = {
    "size": "Size (long side, px)",
    "style_weight": "Style strength",
    "tv_weight": "Smoothness (TV weight)",
    "lr": "Learning rate",
    "tol": "Early-stop tolerance",
}


# Fields that need an input the studio does not take yet; left at their defaults.
NOT_IN_STUDIO: dict[str, str] = {
    "coarse_from": "scale mix needs a second, coarse style image",
}


def _is_main(name: str) -> bool:
    return name in MAIN_FIELDS or "colo" in name or "preserve" in name


def _label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize())


def _describe(tp: Any) -> dict[str, Any]:
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


def _cli_help() -> dict[str, str]:
    """The help text of ``impasto stylize``'s flags, by config field (one source of prose)."""
    try:
        import argparse

        from impasto.cli import build_parser

        parser = build_parser()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                stylize = action.choices["stylize"]
                return {a.dest: a.help for a in stylize._actions if isinstance(a.help, str)}
    except Exception:  # the help is a nicety; the form works without it
        pass
    return {}


@lru_cache(maxsize=1)
def form_fields() -> list[dict[str, Any]]:
    """One entry per StyleConfig field: name, label, kind, default, choices, help, main."""
    hints = typing.get_type_hints(StyleConfig)
    defaults = StyleConfig().to_dict()
    helps = _cli_help()
    out = []
    for f in dataclasses.fields(StyleConfig):
        if f.name in NOT_IN_STUDIO:
            continue
        spec = _describe(hints[f.name])
        if spec["kind"] == "text" and defaults[f.name] in LAYER_NAMES:
            spec = {"kind": "choice", "choices": list(LAYER_NAMES), "nullable": False}
        if f.name == "init":
            # The engine also takes an image path here; the studio never lets a client name a
            # path, so only the keywords are offered (and accepted: see build_config).
            spec = {"kind": "choice", "choices": [m.value for m in Init], "nullable": False}
            helps["init"] = (
                f"where the optimisation starts: {', '.join(m.value for m in Init)} "
                f"(default {defaults['init']})"
            )
        if spec["kind"] == "list" and "layers" in f.name and "weights" not in f.name:
            spec["item"] = "layer"
            spec["choices"] = list(LAYER_NAMES)
            if f.name == "style_layers":
                spec["presets"] = {k: list(v) for k, v in LAYER_PRESETS.items()}
        out.append(
            {
                "name": f.name,
                "label": _label(f.name),
                **spec,
                "default": defaults[f.name],
                "help": helps.get(f.name, ""),
                "main": _is_main(f.name),
            }
        )
    return out


def build_config(data: Any, *, max_size: int, max_steps: int) -> StyleConfig:
    """The studio's StyleConfig from a client's JSON object, within the studio's limits.

    Raises ConfigError naming the bad value (the page shows it as is).
    """
    if not isinstance(data, dict):
        raise ConfigError("config must be a JSON object of StyleConfig fields")
    init = data.get("init", Init.CONTENT.value)
    keywords = [m.value for m in Init]
    if not isinstance(init, str) or init.lower() not in keywords:
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
    return cfg


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "choice": (str,),
    "text": (str,),
    "list": (str, list),  # "relu1_1,relu2_1" or a JSON list; StyleConfig parses both
}


def _check_json_types(data: dict[str, Any]) -> None:
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
