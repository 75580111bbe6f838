"""Write ``runs.pt``: the reference outputs of ``cases.py``. Run once, before a change that
must not alter results: ``python tests/reference/make_reference.py``."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent / "src"))
sys.path.insert(0, str(HERE))

from cases import CASES, record  # noqa: E402

from impasto.features.weights import random_weights  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)  # as the unit tests run
    weights = random_weights(seed=0, width=1 / 16)
    runs = {name: record(make(weights)) for name, make in CASES.items()}
    torch.save(runs, HERE / "runs.pt")
    print(f"wrote {HERE / 'runs.pt'}: {', '.join(runs)}")


if __name__ == "__main__":
    main()
