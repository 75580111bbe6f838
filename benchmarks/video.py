"""Video: temporal error and seconds per frame of the four routes on the bundled street clip.

Routes: independent per-frame optimisation (every frame a whole run from the content, the
style targets shared), impasto's temporally consistent optimisation (Ruder et al. 2016: warm
start from the warped previous output, the temporal loss, fewer steps at the full size), the
raw per-frame style network, and the de-flickered network (video-io's network_route). The
temporal error is :func:`impasto.video.measure.temporal_error` on the 8-bit output frames
(mean masked absolute difference to the previous output carried by the input's flow).
Targets (issue 15): consistent <= 1/3 of independent; later frames <= 1/3 of the first's
time; de-flickered network <= 1/2 of raw.

    python benchmarks/video.py [--frames 8] [--size 192] [--network MODEL] [-o DIR]

With ``-o DIR`` it writes each route's clip as a GIF and a PNG of crops (frames side by side)
to look for ghosting. The network rows need a model (``--network``, or the first of
``impasto models``); without one they are skipped.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from _common import SAMPLES
from impasto.api import stylize
from impasto.config import StyleConfig
from impasto.features.device import cpu_model
from impasto.features.weights import load_weights
from impasto.video.config import VideoConfig
from impasto.video.frames import VideoWriter, bundled_clip, read_frames
from impasto.video.measure import input_motion, temporal_error
from impasto.video.optimise import make_engine, stylize_frames
from impasto.video.run import quantised

Row = tuple[str, list[torch.Tensor], list[float]]


def optimisation_rows(frames: list[torch.Tensor], cfg: VideoConfig) -> list[Row]:
    vgg = load_weights(None)
    style = SAMPLES / "starry_night.jpg"
    engine = make_engine(style, cfg, vgg)
    print(f"  precision: {engine.config.first.precision.value} (auto resolved once)", flush=True)
    done = []
    for f in stylize_frames(engine, frames, len(frames)):
        done.append(f)
        print(f"  consistent frame {f.index}: {f.seconds:.1f} s", flush=True)
    consistent = [quantised(f.output) for f in done]
    # Frame 0 of both routes is the same whole run from the content: not run twice.
    independent, seconds = consistent[:1], [done[0].seconds]
    for frame in frames[1:]:
        began = time.perf_counter()
        result = stylize(frame, None, engine.config.first, weights=vgg, prepared=engine.prepared)
        seconds.append(time.perf_counter() - began)
        independent.append(quantised(result.tensor))
        print(f"  independent frame {len(seconds) - 1}: {seconds[-1]:.1f} s", flush=True)
    return [
        ("independent optimisation", independent, seconds),
        ("consistent optimisation", consistent, [f.seconds for f in done]),
    ]


def network_rows(frames: list[torch.Tensor], model: str | None, strength: float) -> list[Row]:
    from impasto.network.apply import open_network
    from impasto.network.registry import find_model, list_models
    from impasto.video import network_route

    if model is None:
        models = [m for m in list_models() if m.path.suffix == ".safetensors"]
        if not models:
            print("  no style network found (--network MODEL): network rows skipped")
            return []
        model = str(models[0].path)
    network = open_network(find_model(model), device="cpu")
    rows = []
    for name, a in (("raw network", 0.0), (f"de-flickered network (a={strength:g})", strength)):
        began = time.perf_counter()
        outs = [quantised(o) for o in network_route.stylize_frames(network, frames, strength=a)]
        each = (time.perf_counter() - began) / len(outs)
        rows.append((name, outs, [each] * len(outs)))
    return rows


def write_pictures(rows: list[Row], folder: Path, fps: float) -> None:
    from impasto.io.images import save_image

    folder.mkdir(parents=True, exist_ok=True)
    for name, outs, _ in rows:
        slug = name.split(" (")[0].replace(" ", "_")
        with VideoWriter(folder / f"{slug}.gif", fps) as out:
            for o in outs:
                out.write(o)
        save_image(torch.cat(outs[:4], dim=-1), folder / f"{slug}_frames.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--steps", type=int, help="the first frame's (and each independent frame's)")
    ap.add_argument("--later-steps", type=int)
    ap.add_argument("--temporal-weight", type=float)
    ap.add_argument("--fill")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--network", metavar="MODEL")
    ap.add_argument("--deflicker", type=float)
    ap.add_argument("-o", "--output", metavar="DIR", help="write GIFs and crops here")
    args = ap.parse_args()
    style_cfg = StyleConfig(precision=args.precision)
    if args.steps is not None:
        style_cfg = style_cfg.replace(steps=args.steps)
    given = {
        k: getattr(args, k)
        for k in ("later_steps", "temporal_weight", "fill", "deflicker")
        if getattr(args, k) is not None
    }
    cfg = VideoConfig(size=args.size, style_config=style_cfg, **given)
    frames = list(read_frames(bundled_clip(), range(args.frames), args.size))
    h, w = frames[0].shape[-2:]
    print(f"clip: street.mp4, frames 0:{args.frames} at {w}x{h}; CPU: {cpu_model()}")
    print(f"  later frames: {cfg.later_step_count} steps at the full size")
    rows = optimisation_rows(frames, cfg) + network_rows(frames, args.network, cfg.deflicker)
    motion = input_motion(frames)
    print(f"\nsettings: {cfg.to_json()}\n")
    print("| route | temporal error | s/frame (first) | s/frame (later) |")
    print("| --- | --- | --- | --- |")
    errors = {}
    for name, outs, secs in rows:
        errors[name] = temporal_error(outs, motion)
        later = sum(secs[1:]) / max(1, len(secs) - 1)
        print(f"| {name} | {errors[name]:.4f} | {secs[0]:.2f} | {later:.2f} |")
    e = list(errors.values())
    print(f"\nconsistent / independent temporal error: {e[1] / e[0]:.2f} (target <= 0.33)")
    consistent = rows[1][2]
    ratio = (sum(consistent[1:]) / max(1, len(consistent) - 1)) / consistent[0]
    print(f"later / first frame time (consistent): {ratio:.2f} (target <= 0.33)")
    if len(e) == 4:
        print(f"de-flickered / raw network temporal error: {e[3] / e[2]:.2f} (target <= 0.5)")
    if args.output:
        write_pictures(rows, Path(args.output), 10.0)


if __name__ == "__main__":
    main()
