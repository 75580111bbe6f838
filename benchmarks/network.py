"""Style networks: seconds to apply one 512 px photo under onnxruntime and torch eager, beside
``impasto stylize`` at the same size; and training throughput (seconds per step, crops/s) with
the real VGG19 in fp32 and bf16. Prints the CPU and the thread count: figures depend on both.

The networks are freshly initialised (a trained one costs the same arithmetic).

    python benchmarks/network.py [--size 512] [--repeats 5] [--train-steps 3] [--no-stylize]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from _common import image_path
from impasto.features.device import cpu_model
from impasto.io.images import load_image
from impasto.network.config import NetworkConfig, TrainConfig
from impasto.network.export import onnx_session_for
from impasto.network.info import NetworkInfo
from impasto.network.model import build_network
from impasto.network.modelfile import StyleNetwork
from impasto.network.stylizer import Stylizer
from impasto.preprocess.resize import resize_long_side


def cpu_name() -> str:
    return cpu_model()  # the one /proc/cpuinfo reader, in impasto.features.device


def network_gflop(net: StyleNetwork, hw: tuple[int, int]) -> float:
    """Multiply-adds x 2 of every convolution for one image of ``hw``."""
    total = 0.0
    sizes: dict[torch.nn.Module, tuple[int, int]] = {}

    def hook(module: torch.nn.Module, _: object, out: torch.Tensor) -> None:
        sizes[module] = (out.shape[-2], out.shape[-1])

    handles = [m.register_forward_hook(hook) for m in net.model.modules()
               if isinstance(m, torch.nn.Conv2d)]  # fmt: skip
    net.run(torch.rand(1, 3, *hw))
    for h in handles:
        h.remove()
    for m, (oh, ow) in sizes.items():
        assert isinstance(m, torch.nn.Conv2d)
        k = m.kernel_size[0] * m.kernel_size[1]
        total += 2 * m.in_channels * m.out_channels * k * oh * ow
    return total / 1e9


def seconds(net: Stylizer, x: torch.Tensor, repeats: int) -> float:
    net.run(x)  # warm up (oneDNN and onnxruntime pick their kernels on the first run)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        net.run(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def apply_table(size: int, repeats: int) -> dict[str, float]:
    photo = resize_long_side(load_image(image_path("tubingen.jpg")), size)
    hw = (photo.shape[-2], photo.shape[-1])
    print(f"\napply one {hw[1]}x{hw[0]} photo (median of {repeats}):")
    print("network              GFLOP   torch eager   onnxruntime")
    out = {}
    for width in (0.5, 1.0):
        cfg = NetworkConfig(width=width, blocks=5)
        net = StyleNetwork(build_network(cfg), NetworkInfo(cfg))
        t_torch = seconds(net, photo, repeats)
        t_ort = seconds(onnx_session_for(net), photo, repeats)
        label = f"width {width:g}, 5 blocks" + (" (default)" if width == 0.5 else "")
        print(f"{label:<20} {network_gflop(net, hw):6.1f}   {t_torch:9.3f} s   {t_ort:9.3f} s")
        out[f"torch_{width:g}"], out[f"ort_{width:g}"] = t_torch, t_ort
    return out


def stylize_seconds(size: int) -> float:
    from impasto.api import stylize
    from impasto.config import StyleConfig

    start = time.perf_counter()
    stylize(image_path("tubingen.jpg"), image_path("starry_night.jpg"), StyleConfig(size=size))
    return time.perf_counter() - start


def train_table(steps: int) -> None:
    from impasto.features.weights import load_weights
    from impasto.network.checkpoint import TrainInputs
    from impasto.network.photos import PhotoSet
    from impasto.network.train import _Trainer

    cfg = TrainConfig(validation=0)
    photos = [load_image(image_path(n)) for n in ("tubingen.jpg", "golden_gate.jpg")]
    side = round(cfg.crop_size * (1 + cfg.scale_jitter))
    u8 = tuple((resize_long_side(p, side * 2)[0] * 255).round().to(torch.uint8) for p in photos)
    style = load_image(image_path("starry_night.jpg"))
    print(
        f"\ntraining, default settings (batch {cfg.batch_size} x {cfg.crop_size} px crops, "
        f"style to {cfg.style_layers[-1]}, network width 0.5); {steps} steps after one warm-up:"
    )
    for precision in ("fp32", "bf16"):
        inputs = TrainInputs(
            cfg, NetworkConfig(), style, "starry_night.jpg", "", "", None, precision
        )
        trainer = _Trainer.start(inputs, load_weights(), PhotoSet(u8, ("a", "b"), 0), None)
        trainer.train_step()
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        per = (time.perf_counter() - start) / steps
        print(f"  {precision}: {per:.2f} s/step, {cfg.batch_size / per:.2f} crops/s; "
              f"{cfg.steps} steps ≈ {cfg.steps * per / 60:.0f} min")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument("--no-stylize", action="store_true", help="skip the impasto stylize run")
    args = ap.parse_args()
    print(f"CPU: {cpu_name()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          "networks in fp32")  # fmt: skip
    times = apply_table(args.size, args.repeats)
    if not args.no_stylize:
        t = stylize_seconds(args.size)
        best = times["ort_0.5"]
        print(f"impasto stylize, defaults, {args.size} px: {t:.1f} s "
              f"({t / best:.0f}x the default network under onnxruntime)")  # fmt: skip
    if args.train_steps:
        train_table(args.train_steps)


if __name__ == "__main__":
    main()
