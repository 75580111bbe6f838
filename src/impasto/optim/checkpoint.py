"""Saving and loading the state of a run, so that a long run survives interruption."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from impasto.errors import CheckpointError
from impasto.io.atomic import atomic_write

FILE = "checkpoint.pt"
FORMAT = 1


def save_checkpoint(folder: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) atomically to folder/FILE."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    target = d / FILE
    with atomic_write(target) as f:
        torch.save({"format": FORMAT, **state}, f)
    return target


def load_checkpoint(folder: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(folder)
    target = p / FILE if p.is_dir() else p
    if not target.is_file():
        raise CheckpointError(f"no checkpoint found in {p} (expected {p / FILE})")
    try:
        state = torch.load(target, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise CheckpointError(f"cannot read checkpoint {target}: {e}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{target} is not an impasto checkpoint of format {FORMAT}")
    return state
