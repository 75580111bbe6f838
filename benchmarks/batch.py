"""Items per minute of `impasto batch`: in this process against Ray on this machine, and how
Ray would scale with workers, projected from the measured per-item cost and overheads; for
the optimisation route and for the network route (`--network`).

32 small photos (crops of the bundled samples) x one style, real VGG19 weights, the settings
below (precision pinned, so the figure means one thing). In-process: one item at a time with
every core. Ray: a new local Ray (`--ray auto` without RAY_ADDRESS), one worker per CPU with
one thread each. The projection (printed with the numbers) is

    items/min(N) = min(60 * N / (t_item + o_item), 60 / d_item)
    batch time(M items, N workers) = S + ceil(M / N) * (t_item + o_item)

with t_item the seconds stylize takes per item on one worker, o_item Ray's per-item overhead
on a worker (the wall time per item beyond t_item: scheduling, object transfer), d_item the
driver's serial work per item (decode the photo, write the PNG, update the manifest), S the
start-up (Ray's, and each worker taking the weights).

Optimisation route, in this process, also with one torch thread per item (`--threads 1`).
Network route: a style network of the default architecture (random weights: the cost is the
same as a trained one's) at --net-size px, in this process (photos of one size several per
forward pass, and one per pass) and on a local Ray (a Ray Data actor pool, one actor per CPU).

Video, network route: frames per minute of one short clip (the bundled street clip, its first
--frames frames, 30: all of it, at --clip-size px) through the same network, in this process
(a few frames per pass, the de-flicker and encoding in order) and on a local Ray (the frames'
passes on a Ray Data actor pool, the de-flicker and encoding on the driver in frame order).

    python benchmarks/batch.py [--photos 32] [--size 128] [--steps 30] [--precision fp32]
                               [--net-size 256] [--frames 24] [--clip-size 192]
                               [--only opt|network|video]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from _common import image_path
from impasto.batch.job import Job, NetworkJob, Quiet, collect_photos, plan_batch
from impasto.batch.local import run_local, run_network_local
from impasto.batch.manifest import Item, Manifest, NetworkSettings, Settings
from impasto.batch.ray_data import run_network_ray
from impasto.batch.ray_runner import RayOptions, run_ray
from impasto.config import StyleConfig
from impasto.features.weights import load_weights
from impasto.io.images import load_image
from impasto.network.apply import ApplyConfig


def cpu_name() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def make_photos(folder: Path, n: int, size: int) -> None:
    """``n`` different crops of the bundled photos, ``size`` px square."""
    sources = [Image.open(image_path(p)).convert("RGB") for p in
               ("tubingen.jpg", "golden_gate.jpg", "shipwreck.jpg")]  # fmt: skip
    for i in range(n):
        img = sources[i % len(sources)]
        side = min(img.size) * (0.5 + 0.5 * ((i // len(sources)) % 8) / 8)
        x = (img.width - side) * ((i * 7) % 11) / 10
        y = (img.height - side) * ((i * 3) % 5) / 4
        crop = img.crop((round(x), round(y), round(x + side), round(y + side)))
        crop.resize((size, size), Image.Resampling.LANCZOS).save(folder / f"photo{i:02d}.png")


class Timing(Quiet):
    """A listener that notes when each item was sent and when it came back."""

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}
        self.back: dict[int, float] = {}

    def item_started(self, item: Item, index: int, total: int) -> None:
        self.sent[item.id] = time.perf_counter()

    def item_finished(self, item: Item) -> None:
        self.back[item.id] = time.perf_counter()


@dataclass(frozen=True)
class Run:
    wall: float  # the whole batch, start-up included
    startup: float  # until the first item was sent (Ray, the workers, the weights)
    stylize: float  # mean seconds stylize reports per item (its pyramid loop)
    overhead: float  # mean seconds per item from sent to written, beyond stylize's


def run(folder: Path, out: Path, job: Job, ray: RayOptions | None) -> Run:
    timing = Timing()
    t0 = time.perf_counter()
    with Manifest.open(out) as m:
        plan = plan_batch(m, collect_photos([folder], out), [image_path("starry_night.jpg")], job)
        if ray is None:
            rep = run_local(m, plan, job, load_weights(), timing)
        else:
            rep = run_ray(m, plan, job, ray, timing)
    wall = time.perf_counter() - t0
    assert rep.ok and len(rep.done) == len(plan.run), rep.failed
    stylize = [i.seconds or 0.0 for i in rep.done]
    spans = [timing.back[i.id] - timing.sent[i.id] for i in rep.done]
    startup = min(timing.sent.values()) - t0
    over = statistics.mean(s - t for s, t in zip(spans, stylize, strict=True))
    return Run(wall, startup, statistics.mean(stylize), over)


def driver_seconds(folder: Path, out: Path) -> float:
    """The driver's serial work per item: decode a photo, write a PNG (the manifest's update
    is a few milliseconds more)."""
    from impasto.io.images import save_image

    photos = sorted(folder.glob("*.png"))[:8]
    t0 = time.perf_counter()
    for p in photos:
        save_image(load_image(p), out / f"copy_{p.name}")
    return (time.perf_counter() - t0) / len(photos)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=32)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--net-size", type=int, default=256)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--clip-size", type=int, default=192)
    ap.add_argument("--only", choices=["opt", "network", "video"])
    args = ap.parse_args()
    cpus = os.cpu_count() or 1
    print(f"{cpu_name()}, {cpus} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    os.environ.pop("RAY_ADDRESS", None)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.only in (None, "opt"):
            optimisation(root / "opt", args, cpus)
        if args.only in (None, "network"):
            network(root / "net", args)
        if args.only in (None, "video"):
            video(root / "video", args)


def optimisation(root: Path, args: argparse.Namespace, cpus: int) -> None:
    print(f"\noptimisation route, {args.precision}: {args.photos} photos x 1 style, "
          f"{args.size} px, {args.steps} steps")  # fmt: skip
    (root / "photos").mkdir(parents=True)
    make_photos(root / "photos", args.photos, args.size)
    cfg = StyleConfig(size=args.size, steps=args.steps, precision=args.precision)
    results = {}
    runs = (("in-process", Job(Settings(cfg)), None),
            ("in-process, 1 thread", Job(Settings(cfg), threads=1), None),
            ("ray", Job(Settings(cfg)), RayOptions("auto")))  # fmt: skip
    for name, job, ray in runs:
        r = run(root / "photos", root / name, job, ray)
        results[name] = r
        print(f"{name:>20}: {r.wall:6.1f} s, {60 * args.photos / r.wall:5.1f} items/min "
              f"(start-up {r.startup:.1f} s; per item: stylize {r.stylize:.2f} s, "
              f"overhead {r.overhead:.2f} s)")  # fmt: skip
    d = driver_seconds(root / "photos", root)
    project(results["ray"], cpus, d)


def network(root: Path, args: argparse.Namespace) -> None:
    """The network route: in process (batched, and one photo per pass) and on Ray Data."""
    from impasto.network.config import NetworkConfig
    from impasto.network.info import NetworkInfo
    from impasto.network.model import build_network
    from impasto.network.modelfile import save_network

    cfg = NetworkConfig()
    print(f"\nnetwork route, fp32: {args.photos} photos of {args.net_size} px through the "
          f"default network (width {cfg.width}, {cfg.blocks} blocks), torch")  # fmt: skip
    (root / "photos").mkdir(parents=True)
    make_photos(root / "photos", args.photos, args.net_size)
    info = NetworkInfo(cfg, "painting.png", "0" * 64, {})
    model = save_network(build_network(cfg, seed=0), root / "style.safetensors", info)
    settings = NetworkSettings(ApplyConfig(device="cpu"))
    runs = (("in-process, batches", NetworkJob(settings), None),
            ("in-process, 1 per pass", NetworkJob(settings, max_batch=1), None),
            ("ray data", NetworkJob(settings), RayOptions("auto")))  # fmt: skip
    for name, job, ray in runs:
        timing = Timing()
        t0 = time.perf_counter()
        with Manifest.open(root / name) as m:
            plan = plan_batch(m, collect_photos([root / "photos"], root / name), [model], job)
            if ray is None:
                rep = run_network_local(m, plan, job, timing)
            else:
                rep = run_network_ray(m, plan, job, ray, timing)
        wall = time.perf_counter() - t0
        assert rep.ok and len(rep.done) == args.photos, rep.failed
        each = statistics.mean(i.seconds or 0.0 for i in rep.done)
        # On Ray the first output comes once Ray, the actors and a block are done (Ray Data
        # hands blocks back whole), so the time to it is mostly start-up.
        first = min(timing.back.values()) - t0
        print(f"{name:>22}: {wall:6.1f} s, {60 * args.photos / wall:6.1f} items/min; first "
              f"output after {first:.1f} s; network {each:.3f} s per photo")  # fmt: skip


def _default_network(path: Path) -> Path:
    from impasto.network.config import NetworkConfig
    from impasto.network.info import NetworkInfo
    from impasto.network.model import build_network
    from impasto.network.modelfile import save_network

    cfg = NetworkConfig()
    info = NetworkInfo(cfg, "painting.png", "0" * 64, {})
    return save_network(build_network(cfg, seed=0), path, info)


def video(root: Path, args: argparse.Namespace) -> None:
    """A clip through the network route: in process and on Ray (frames per minute)."""
    from impasto.video.config import VideoConfig
    from impasto.video.frames import bundled_clip

    (root / "clips").mkdir(parents=True)
    clip = root / "clips" / "street.mp4"
    clip.symlink_to(bundled_clip("street"))
    model = _default_network(root / "style.safetensors")
    cfg = VideoConfig(size=args.clip_size, frames=f"0:{args.frames}")
    print(f"\nvideo, network route, fp32: {args.frames} frames of the street clip at "
          f"{args.clip_size} px, default network, de-flicker {cfg.deflicker}")  # fmt: skip
    settings = NetworkSettings(ApplyConfig(device="cpu"))
    runs = (("in-process", None), ("ray data", RayOptions("auto")))
    for name, ray in runs:
        job = NetworkJob(settings, video=cfg)
        t0 = time.perf_counter()
        with Manifest.open(root / name) as m:
            plan = plan_batch(m, collect_photos([root / "clips"], root / name), [model], job)
            if ray is None:
                rep = run_network_local(m, plan, job, Quiet())
            else:
                rep = run_network_ray(m, plan, job, ray, Quiet())
        wall = time.perf_counter() - t0
        assert rep.ok and len(rep.done) == 1, rep.failed
        inside = rep.done[0].seconds or wall
        print(f"{name:>22}: {wall:6.1f} s, {60 * args.frames / wall:6.1f} frames/min "
              f"({60 * args.frames / inside:6.1f} from the clip's start)")  # fmt: skip


def project(ray: Run, cpus: int, d: float) -> None:
    t, o, s = ray.stylize, ray.overhead, ray.startup
    print(f"\nprojection (Ray, measured here): t_item = {t:.2f} s (one thread per worker), "
          f"o_item = {o:.2f} s, d_item = {d * 1000:.0f} ms, S = {s:.1f} s")  # fmt: skip
    print("  items/min(N) = min(60 N / (t_item + o_item), 60 / d_item)")
    print("  time(M, N) = S + ceil(M / N) (t_item + o_item)")
    for n in (1, 2, 8, 32, 128, 512):
        rate = min(60 * n / (t + o), 60 / d)
        print(f"  N = {n:>3} workers: {rate:8.1f} items/min; 500 photos in "
              f"{(s + -(-500 // n) * (t + o)) / 60:6.1f} min")  # fmt: skip


if __name__ == "__main__":
    main()
