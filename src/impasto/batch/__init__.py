"""``impasto batch``: many photos times many styles, with a manifest that makes a batch resumable.

A shell beside the studio: it builds a :class:`~impasto.config.StyleConfig`, calls
:func:`impasto.api.stylize` for every item (in this process, or on Ray workers) and writes what
comes back. ``manifest`` records the items in SQLite in the output folder, ``local`` runs them in
this process, ``ray_runner`` on a Ray cluster, ``cli`` is the subcommand's argparse part.
Nothing is imported here, so ``import impasto.batch`` costs nothing.
"""
