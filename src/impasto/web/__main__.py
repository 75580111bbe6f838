"""``python -m impasto.web``: the same as ``impasto serve`` (``make demo-web`` runs this)."""

from __future__ import annotations

import argparse
import sys

from impasto.web.cli import add_serve_arguments, run_serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m impasto.web", description=__doc__)
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
