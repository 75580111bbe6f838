"""The style-network commands in-process: train → apply → export → apply the ONNX file →
models; Ctrl-C saves a checkpoint that --resume finishes; bad inputs give one line, exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from PIL import Image

import impasto.cli.network
from impasto.io.images import read_metadata
from pictures import gradient_array

CliRunner = Callable[[Sequence[str]], tuple[int, str, str]]


TINY = ["--steps", "3", "--batch-size", "1", "--crop-size", "32", "--width", "0.125"]
TINY += ["--blocks", "1", "--precision", "fp32", "-q"]


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    d = tmp_path / "photos" / "nested"
    d.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(gradient_array(36 + 4 * i, 40)).save(d / f"p{i}.png")
    return d.parent


def _train(style: Path, photos: Path, out: Path, weights: Path, *more: str) -> list[str]:
    return ["train", str(style), "--photos", str(photos), "-o", str(out),
            "--weights", str(weights), *TINY, *more]  # fmt: skip


@pytest.mark.precision
def test_train_apply_export_models(
    run_cli: CliRunner, style_path: Path, content_path: Path, photos: Path, weights_file: Path,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    model = tmp_path / "models" / "mine.safetensors"
    model.parent.mkdir()
    argv = _train(style_path, photos, model, weights_file, "--validation", "1",
                  "--preview-every", "2", "--plot", str(tmp_path / "loss.png"),
                  "--animate", str(tmp_path / "previews.gif"))  # fmt: skip
    code, _, err = run_cli(argv)
    assert code == 0, err
    assert model.is_file() and (tmp_path / "loss.png").is_file()
    assert sorted(p.name for p in (tmp_path / "models" / "mine_previews").iterdir()) == [
        "step_000002.png", "step_000003.png"]  # fmt: skip
    with Image.open(tmp_path / "previews.gif") as gif:
        assert gif.n_frames == 2
    assert (tmp_path / "models" / "mine.ckpt" / "training.pt").is_file()

    out = tmp_path / "out.png"
    code, _, err = run_cli(["apply", str(model), str(content_path), "-o", str(out), "--size", "24"])
    assert code == 0, err
    assert "per image on torch" in err
    assert json.loads(read_metadata(out)["impasto"])["model"] == "mine.safetensors"

    onnx = tmp_path / "mine.onnx"
    code, _, err = run_cli(["export", str(model), "-o", str(onnx)])
    assert code == 0 and onnx.is_file(), err
    code, _, err = run_cli(["apply", str(onnx), str(content_path), "-o", str(tmp_path / "o.jpg")])
    assert code == 0 and "on onnxruntime" in err, err

    monkeypatch.setenv("IMPASTO_MODELS", str(tmp_path / "models"))
    code, listing, err = run_cli(["models"])
    assert code == 0 and "mine\tuser\tstyle style.png" in listing, err
    code, _, err = run_cli(["apply", "mine", str(photos), "-o", str(tmp_path / "styled"), "-q"])
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "styled" / "nested").iterdir()) == [
        "p0.png", "p1.png", "p2.png"]  # fmt: skip


class _CtrlC:
    """impasto.cli's Ctrl-C guard, as if Ctrl-C had been pressed before the first step ended."""

    requested = True

    def __enter__(self) -> _CtrlC:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def test_ctrl_c_saves_and_resume_finishes(
    run_cli: CliRunner, style_path: Path, photos: Path, weights_file: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    model = tmp_path / "m.safetensors"
    with monkeypatch.context() as m:
        m.setattr(impasto.cli.network, "Interrupt", _CtrlC)
        code, _, err = run_cli(_train(style_path, photos, model, weights_file))
    assert code == 130
    assert err.strip() == f"impasto: stopped at step 1; checkpoint saved in {tmp_path / 'm.ckpt'}"
    assert not model.exists()
    code, _, err = run_cli(["train", "--resume", str(tmp_path / "m.ckpt"),
                            "--weights", str(weights_file), "-q"])  # fmt: skip
    assert code == 0, err
    assert model.is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "S", "-o", "x.safetensors"], "give STYLE, --photos DIR and -o"),
        (
            ["train", "S", "--photos", "P", "-o", "x.safetensors", "--width", "-1"],
            "--width must be",
        ),
        (["train", "S", "--photos", "P", "-o", "x.pt"], "unknown output extension '.pt'"),
        (["train", "S", "--photos", "EMPTY", "-o", "x.safetensors"], "no photos in"),
        (["apply", "S", "S", "-o", "o.png"], "unknown model file extension '.png'"),
        (["apply", "nothing-by-this-name", "S", "-o", "o.png"], "no model file or model named"),
        (["apply", "BAD.safetensors", "S", "-o", "o.png"], "is not an impasto style network"),
        (["export", "BAD.safetensors", "-o", "x.onnx"], "is not an impasto style network"),
        (["train", "--resume", "EMPTY"], "no training checkpoint found in"),
        (
            ["apply", "S", "S", "-o", "o.png", "--strength", "1.5"],
            "--strength must be a number from 0 to 1, got 1.5",
        ),
        (
            ["apply", "S", "S", "-o", "o.png", "--strength", "-0.1"],
            "--strength must be a number from 0 to 1, got -0.1",
        ),
        (
            ["apply", "S", "S", "-o", "o.png", "--strength", "x"],
            "argument --strength: invalid float value: 'x'",
        ),
        (
            ["train", "S", "--photos", "P", "-o", "x.safetensors", "--from", "BAD.safetensors"],
            "bad.safetensors is not an impasto style network",
        ),
        (
            [
                "train",
                "S",
                "--photos",
                "P",
                "-o",
                "x.safetensors",
                "--from",
                "nothing-by-this-name",
            ],
            "no model file or model named 'nothing-by-this-name'",
        ),
        (
            [
                "train",
                "S",
                "--photos",
                "P",
                "-o",
                "x.safetensors",
                "--from",
                "starry_night",
                "--blocks",
                "3",
            ],
            "--blocks 3 conflicts with starry_night.safetensors, whose network has --blocks 5",
        ),
        (
            ["train", "S", "--photos", "P", "-o", "x.safetensors", "--targets", "EMPTY"],
            "3 of 3 photos have no target in",
        ),
        (
            ["train", "--resume", "EMPTY", "--from", "starry_night"],
            "--resume takes the style, photos, output, --half and --from from its checkpoint",
        ),
    ],
)
def test_bad_inputs_give_one_line(
    run_cli: CliRunner, style_path: Path, photos: Path, tmp_path: Path, argv: list[str],
    message: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.safetensors").write_text("not a model")
    monkeypatch.setenv("IMPASTO_MODELS", str(tmp_path / "no-models"))
    names = {"S": style_path, "P": photos, "EMPTY": tmp_path / "empty",
             "BAD.safetensors": tmp_path / "bad.safetensors"}  # fmt: skip
    code, out, err = run_cli([str(names.get(a, a)) for a in argv])
    assert code == 2, err
    assert out == "" and err.count("\n") == 1 and message in err, err


def test_resume_can_train_longer_but_takes_no_other_setting(
    run_cli: CliRunner, style_path: Path, photos: Path, weights_file: Path, tmp_path: Path
) -> None:
    model = tmp_path / "m.safetensors"
    code, _, err = run_cli(_train(style_path, photos, model, weights_file))
    assert code == 0, err
    folder = str(tmp_path / "m.ckpt")
    code, _, err = run_cli(["train", "--resume", folder, "--lr", "0.1"])
    assert code == 2 and "only --steps (to train longer) may be given, not --lr" in err
    code, _, err = run_cli(["train", "--resume", folder, "--steps", "2"])
    assert code == 2 and "steps must be at least the 3 already done, got 2" in err
    code, _, err = run_cli(["train", "--resume", folder, "--steps", "5", "--weights",
                            str(weights_file), "-q"])  # fmt: skip
    assert code == 0, err
    from impasto.network.modelfile import load_network

    assert load_network(model).info.training["steps_run"] == 5


@pytest.mark.precision
def test_bundled_models_by_name(
    run_cli: CliRunner, content_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a fresh install: `impasto models` lists the bundled networks and `impasto apply
    starry_night photo -o out.png` finds one by name."""
    monkeypatch.setenv("IMPASTO_MODELS", str(tmp_path / "none"))
    code, out, err = run_cli(["models"])
    assert code == 0, err
    lines = {line.split("\t")[0]: line for line in out.splitlines()}
    for name in ("starry_night", "the_scream"):
        assert "\tbundled\t" in lines[name] and f"style {name}.jpg, width 0.5" in lines[name]
    fast = lines["starry_night_fast"]  # the video network: The Starry Night at a quarter width
    assert "\tbundled\t" in fast and "style starry_night.jpg, width 0.25" in fast
    target = tmp_path / "out.png"
    code, _, err = run_cli(["apply", "starry_night", str(content_path), "-o", str(target),
                            "--size", "64"])  # fmt: skip
    assert code == 0, err
    with Image.open(target) as img:
        assert max(img.size) == 64
    assert json.loads(read_metadata(target)["impasto"])["model"] == "starry_night.safetensors"


def test_train_from_a_model_fine_tunes_it_and_resume_keeps_the_record(
    run_cli: CliRunner, style_path: Path, photos: Path, weights_file: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from impasto.network.config import NetworkConfig
    from impasto.network.model import build_network
    from impasto.network.modelfile import load_network, save_network

    base = save_network(build_network(NetworkConfig(width=0.125, blocks=1), seed=3),
                        tmp_path / "base.safetensors")  # fmt: skip
    model = tmp_path / "tuned.safetensors"
    # TINY gives the base's own --width and --blocks: no conflict.
    with monkeypatch.context() as m:
        m.setattr(impasto.cli.network, "Interrupt", _CtrlC)
        code, _, err = run_cli(_train(style_path, photos, model, weights_file, "--from", str(base)))
    assert code == 130, err
    code, _, err = run_cli(["train", "--resume", str(tmp_path / "tuned.ckpt"),
                            "--weights", str(weights_file), "-q"])  # fmt: skip
    assert code == 0, err
    record = load_network(model).info.training["start_from"]
    assert isinstance(record, dict) and record["model"] == "base.safetensors"
    assert record["path"] == str(base.resolve())
    code, _, err = run_cli(["train", str(style_path), "--photos", str(photos), "-o",
                            str(tmp_path / "x.safetensors"), "--from", str(base),
                            "--width", "0.25", "-q"])  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    assert "--width 0.25 conflicts with base.safetensors, whose network has --width 0.125" in err


def test_apply_at_strength_0_gives_the_photo(
    run_cli: CliRunner, content_path: Path, tmp_path: Path
) -> None:
    import numpy as np

    out, painted = tmp_path / "photo.png", tmp_path / "painted.png"
    for target, strength in ((out, "0"), (painted, "1")):
        code, _, err = run_cli(["apply", "starry_night", str(content_path), "-o", str(target),
                                "--strength", strength, "--precision", "fp32"])  # fmt: skip
        assert code == 0, err
    with Image.open(content_path) as a, Image.open(out) as b, Image.open(painted) as c:
        photo, same, other = (np.asarray(i.convert("RGB"), dtype=int) for i in (a, b, c))
    assert np.abs(photo - same).max() <= 1
    assert np.abs(photo - other).mean() > 10
    assert json.loads(read_metadata(out)["impasto"])["apply"]["strength"] == 0
