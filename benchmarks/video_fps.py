"""Video: frames per second of the network route at 360p, end to end (decode, network,
de-flicker, H.264 encode), and what each speed-up costs in flicker and ghosting.

Each variant runs the same frames of the bundled street clip (480x360) through
:func:`impasto.video.network_route.stylize_frames` into an MP4, as ``impasto video
--network`` does. The baseline is the route as it stood before it was tuned for speed
(torch fp32, 4 frames per pass, the filter's flows at full size); every other row is a
ratio against it, run side by side in this process. Beside the speed: the temporal error
(lower: less flicker) and the mean |output - raw network output| on pixels that move
over 1 px (higher: more of the previous frame smeared onto moving things, i.e. ghosting).
Target (issue 15): at least 10 frames per second at 360p on 2 cores.

    python benchmarks/video_fps.py [--frames 30] [--size 480] [--network starry_night] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from impasto.features.device import cpu_model
from impasto.network.apply import open_network
from impasto.network.registry import find_model
from impasto.video import network_route
from impasto.video.frames import VideoWriter, bundled_clip, probe, read_frames
from impasto.video.measure import input_motion, temporal_error
from impasto.video.run import quantised


@dataclass(frozen=True)
class Variant:
    name: str
    backend: str = "torch"
    precision: str = "auto"
    batch: int = network_route.DEFAULT_BATCH
    flow_side: int | None = network_route.FLOW_SIDE
    overlap: bool = True
    model: str | None = None  # another network than --network's


VARIANTS = [
    Variant(
        "baseline: torch fp32, batch 4, full-size flow, one thread", "torch", "fp32", 4, None, False
    ),
    Variant("torch auto, batch 4, full-size flow", batch=4, flow_side=None),
    Variant("torch auto, batch 1, flow at 320 px", batch=1, flow_side=320),
    Variant("onnxruntime fp32, batch 1, full-size flow", "onnxruntime", "fp32", 1, None),
    Variant("torch auto, batch 1, full-size flow, one thread", overlap=False),
    Variant("default: torch auto, batch 1, full-size flow, flows on a second thread"),
    Variant("default route, the quarter-width network", model="starry_night_fast"),
]


def run(variant: Variant, model: Path, frames: range, size: int, out: Path) -> tuple[float, list]:
    """Seconds per frame end to end (opening the network not counted) and the outputs."""
    network = open_network(model, variant.backend, "cpu", variant.precision)
    clip = bundled_clip()
    kept: list[torch.Tensor] = []
    began = time.perf_counter()
    reader = read_frames(clip, frames, size)
    outputs = network_route.stylize_frames(
        network, reader, batch=variant.batch, flow_side=variant.flow_side, overlap=variant.overlap
    )
    with VideoWriter(out, probe(clip).fps) as writer:
        for output in outputs:
            writer.write(quantised(output))
            kept.append(quantised(output))
    return (time.perf_counter() - began) / len(frames), kept


Frames = list[torch.Tensor]


def ghosting(outs: Frames, raw: Frames, moving: Frames) -> float:
    """Mean |out - raw| over the pixels whose input moved over 1 px; ``moving[t - 1]`` is
    frame t's (frames 1 on)."""
    diffs = [(o - r).abs().mean(1, keepdim=True) for o, r in zip(outs[1:], raw[1:], strict=True)]
    total = sum(float((d * m).sum()) for d, m in zip(diffs, moving, strict=True))
    return total / max(1.0, sum(float(m.sum()) for m in moving))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", type=int, default=480, help="long side; 480 is 480x360")
    ap.add_argument("--network", default="starry_night")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each variant, in turns")
    args = ap.parse_args()
    frames = range(args.frames)
    inputs = list(read_frames(bundled_clip(), frames, args.size))
    h, w = inputs[0].shape[-2:]
    models = {v.name: find_model(v.model or args.network) for v in VARIANTS}
    print(f"clip: street.mp4, frames 0:{args.frames} at {w}x{h}; network {args.network}; "
          f"CPU: {cpu_model()}, {torch.get_num_threads()} threads")  # fmt: skip
    motion = input_motion(inputs)
    moving = [(f.norm(dim=1, keepdim=True) > 1.0).float() for f in motion.flows]
    raws: dict[Path, Frames] = {}
    for model in sorted(set(models.values())):
        raw_net = open_network(model, "torch", "cpu", "fp32")
        outs = network_route.stylize_frames(raw_net, inputs, strength=0.0)
        raws[model] = [quantised(o) for o in outs]
        print(f"raw {model.stem} (fp32) temporal error: {temporal_error(raws[model], motion):.4f}")
    print()
    times, kept = timed(models, frames, args)
    print(f"each variant's ms/frame: the median of {args.rounds} rounds, the variants taking "
          "turns within a round (the speed here drifts 10-20% in minutes)\n")  # fmt: skip
    print("| variant | precision | ms/frame | frames/s | x baseline | temporal error | ghosting |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    base = statistics.median(times[VARIANTS[0].name])
    for v in VARIANTS:
        seconds, outs, model = statistics.median(times[v.name]), kept[v.name], models[v.name]
        prec = open_network(model, v.backend, "cpu", v.precision).precision
        error = temporal_error(outs, motion)
        share = error / temporal_error(raws[model], motion)
        print(f"| {v.name} | {prec} | {seconds * 1000:.0f} | {1 / seconds:.1f} | "
              f"{base / seconds:.2f} | {error:.4f} ({share:.2f} of raw) | "
              f"{ghosting(outs, raws[model], moving):.4f} |", flush=True)  # fmt: skip
    print("\nms/frame of every round, in order:")
    for v in VARIANTS:
        print(f"  {v.name}: {', '.join(f'{t * 1000:.0f}' for t in times[v.name])}")


def timed(
    models: dict[str, Path], frames: range, args: argparse.Namespace
) -> tuple[dict[str, list[float]], dict[str, Frames]]:
    """Each variant's seconds per frame in every round (after one warm-up each), and its
    outputs of the last round."""
    times: dict[str, list[float]] = {v.name: [] for v in VARIANTS}
    kept: dict[str, Frames] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for v in VARIANTS:
            run(v, models[v.name], range(min(4, args.frames)), args.size, Path(tmp) / "warm.mp4")
        for _ in range(args.rounds):
            for v in VARIANTS:
                out = Path(tmp) / "out.mp4"
                seconds, kept[v.name] = run(v, models[v.name], frames, args.size, out)
                times[v.name].append(seconds)
    return times, kept


if __name__ == "__main__":
    main()
