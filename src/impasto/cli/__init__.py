"""impasto's command line: one module per command group over one helper module.

- :mod:`~impasto.cli.root`: the ``impasto`` parser and the dispatch (``main``, ``entry``);
- the command groups, side by side (none imports another): :mod:`~impasto.cli.image`
  (``stylize``, ``texture``, ``resume``, ``layers``), :mod:`~impasto.cli.grid`,
  :mod:`~impasto.cli.serve` (the studio), :mod:`~impasto.cli.audio`, :mod:`~impasto.cli.batch`,
  :mod:`~impasto.cli.video`, :mod:`~impasto.cli.network` (``train``, ``apply``, ``export``,
  ``models``), :mod:`~impasto.cli.upscale` (``upscale``, ``train-upscaler``);
- :mod:`~impasto.cli.pictures`: ``--animate`` and ``--plot`` (the run's recorder);
- :mod:`~impasto.cli.shell`: what they all share (flags from settings, flags to settings, the
  progress bar, Ctrl-C, exit statuses).

The top layer of the package: it imports the library, nothing imports it. The console script
``impasto`` and ``python -m impasto`` run :func:`main`.
"""

from impasto.cli.root import build_parser, entry, main
from impasto.cli.shell import FIELDS

__all__ = ["FIELDS", "build_parser", "entry", "main"]
