"""Video clips in a batch, in this process (tiny random VGG, a tiny saved network, a 4-frame
32x48 synthetic clip): a folder mixing photos and clips, the clips' settings in their key, a
batch killed in the middle of a clip resuming at the next frame with the same video, and the
network route writing what ``impasto video --network`` writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from impasto.batch.clips import CHECKPOINTS, checkpoint_folder
from impasto.batch.job import Job, NetworkJob, Quiet, check_styles, collect_photos, plan_batch
from impasto.batch.local import run_local, run_network_local
from impasto.batch.manifest import DONE, RUNNING, Manifest, NetworkSettings, Settings
from impasto.config import StyleConfig
from impasto.features.weights import VGGWeights
from impasto.network.apply import ApplyConfig, open_network
from impasto.network.config import NetworkConfig
from impasto.network.info import NetworkInfo
from impasto.network.model import build_network
from impasto.network.modelfile import StyleNetwork, save_network
from impasto.optim.events import StepEvent
from impasto.video.checkpoint import load_video_checkpoint
from impasto.video.config import VideoConfig
from impasto.video.frames import probe, read_frames
from impasto.video.run import stylize_video_network
from pictures import make_clip

SMALL = NetworkConfig(width=0.125, blocks=1)


def save_tiny_network(path: Path, seed: int = 5) -> Path:
    """A small network with weights moved off their initial values, saved as a model file."""
    model = build_network(SMALL, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.2)
    info = NetworkInfo(SMALL, "painting.png", "cd" * 32, {"steps": 1})
    return save_network(StyleNetwork(model, info).model, path, info)


STYLE = StyleConfig(steps=3, scales=1, precision="fp32", tol=0.0)
# Lossless (crf 0): x264 was seen to write other bytes for the same frames from one process,
# or one run, to the next (up to 19/255 apart once decoded); lossless, they decode the same.
VIDEO = VideoConfig(size=48, later_steps=2, temporal_weight=1e6, crf=0)
JOB = Job(Settings(STYLE.replace(size=32)), video=VIDEO)


def _inputs(folder: Path) -> list[Path]:
    folder.mkdir()
    make_clip(folder / "walk.mp4")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(folder / "a.png")
    return collect_photos([folder], folder.parent / "out")


def _decoded(path: Path) -> torch.Tensor:
    return torch.cat(list(read_frames(path)))


def test_a_folder_mixing_photos_and_clips(
    tmp_path: Path, style_path: Path, tiny_weights: VGGWeights
) -> None:
    inputs = _inputs(tmp_path / "in")
    assert [p.name for p in inputs] == ["a.png", "walk.mp4"]
    styles = check_styles([style_path])
    with Manifest.open(tmp_path / "out") as m:
        plan = plan_batch(m, inputs, styles, JOB)
        rep = run_local(m, plan, JOB, tiny_weights, Quiet())
        assert rep.ok and len(rep.done) == 2
        outputs = sorted(i.output for i in rep.done)
        assert outputs[0].endswith(".png") and outputs[1].endswith(".mp4")
        info = probe(tmp_path / "out" / outputs[1])
        assert info.frames == 4 and max(info.width, info.height) == 48
        assert not any((tmp_path / "out" / CHECKPOINTS).iterdir())  # kept frames dropped
        # Again: both skipped. A clip setting changed: a new clip item, the photo skipped.
        assert plan_batch(m, inputs, styles, JOB).skipped == 2
        later = Job(JOB.settings, video=VIDEO.replace(later_steps=3))
        again = plan_batch(m, inputs, styles, later)
        assert (again.new, again.skipped, len(again.run)) == (1, 1, 1)


class _Killed(BaseException):
    """Stands for SIGKILL: nothing in the batch catches it, so the item stays running."""


class _KillInFrame(Quiet):
    """Kills the batch at a step of frame ``frame`` (frames counted by their end events)."""

    def __init__(self, frame: int | None) -> None:
        self.frame, self.finished, self.steps = frame, 0, 0

    def step(self, event: StepEvent) -> None:
        self.steps += 1
        if self.finished == self.frame and event.step == 1:
            raise _Killed

    def poll(self) -> None:
        self.finished += 1


def test_a_batch_killed_mid_clip_resumes_at_the_next_frame(
    tmp_path: Path, style_path: Path, tiny_weights: VGGWeights
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    clips = [make_clip(folder / "walk.mp4")]
    styles = check_styles([style_path])
    with Manifest.open(tmp_path / "whole") as m:
        assert run_local(m, plan_batch(m, clips, styles, JOB), JOB, tiny_weights, Quiet()).ok
        whole = m.items()[0].output

    with Manifest.open(tmp_path / "out") as m, pytest.raises(_Killed):
        run_local(m, plan_batch(m, clips, styles, JOB), JOB, tiny_weights, _KillInFrame(2))
    with Manifest.open(tmp_path / "out") as m:
        item = m.items()[0]
        assert item.status == RUNNING and not (tmp_path / "out" / item.output).exists()
        assert load_video_checkpoint(checkpoint_folder(m, item)).progress.done == 2
        plan = plan_batch(m, clips, styles, JOB)  # the dead batch's item runs again
        resumed = _KillInFrame(None)
        assert run_local(m, plan, JOB, tiny_weights, resumed).ok
        item = m.get(item.id)
    assert item.status == DONE and item.attempts == 2
    assert resumed.finished == 2  # frames 2 and 3 only
    assert resumed.steps == 2 * VIDEO.later_steps
    a, b = _decoded(tmp_path / "whole" / whole), _decoded(tmp_path / "out" / item.output)
    assert a.shape == b.shape and (a - b).abs().max() <= 2 / 255


@pytest.mark.precision
@pytest.mark.parametrize("strength", [1.0, 0.5])
def test_the_network_route_writes_what_impasto_video_writes(
    tmp_path: Path, strength: float
) -> None:
    model = save_tiny_network(tmp_path / "starry.safetensors")
    inputs = _inputs(tmp_path / "in")
    video = VideoConfig(size=48, deflicker=0.8, frames="1:4", crf=0)
    apply = ApplyConfig(device="cpu", size=32, strength=strength)
    job = NetworkJob(NetworkSettings(apply), video=video)
    with Manifest.open(tmp_path / "out") as m:
        rep = run_network_local(m, plan_batch(m, inputs, [model], job), job, Quiet())
        assert rep.ok and len(rep.done) == 2
        clip = next(i for i in rep.done if i.output.endswith(".mp4"))
    network = open_network(model, device="cpu", precision=job.settings.apply.precision)
    cfg = video.replace(style_config=StyleConfig(device="cpu"), strength=strength)
    one = stylize_video_network(inputs[1], network, cfg, out=tmp_path / "one.mp4")
    ours, theirs = _decoded(tmp_path / "out" / clip.output), _decoded(one.out)
    assert ours.shape[0] == 3 and ours.shape == theirs.shape
    assert (ours - theirs).abs().max() <= 2 / 255


@pytest.mark.precision
def test_ctrl_c_in_a_network_clip_puts_it_back(tmp_path: Path) -> None:
    from impasto.batch.manifest import QUEUED
    from impasto.errors import Cancelled

    model = save_tiny_network(tmp_path / "m.safetensors")
    folder = tmp_path / "in"
    folder.mkdir()
    clips = [make_clip(folder / "walk.mp4")]
    job = NetworkJob(NetworkSettings(ApplyConfig(device="cpu")), video=VideoConfig(size=48))

    class Stop(Quiet):
        polls = 0

        def poll(self) -> None:  # the 1st poll is before the clip, the 2nd after its frame 0
            self.polls += 1
            if self.polls == 2:
                raise Cancelled("stop")

    with Manifest.open(tmp_path / "out") as m:
        stop = Stop()
        with pytest.raises(Cancelled):
            run_network_local(m, plan_batch(m, clips, [model], job), job, stop)
        assert stop.polls == 2
        item = m.items()[0]
        assert item.status == QUEUED and item.attempts == 0
        assert not (tmp_path / "out" / item.output).exists()


def test_a_clip_a_few_frames_a_call_is_the_whole_run(
    tmp_path: Path, style_path: Path, tiny_weights: VGGWeights
) -> None:
    """What the Ray driver does with a clip (without Ray): a few frames per call, each call
    continuing from the frames kept, a "worker lost" in between; the video is the whole run's."""
    from impasto.batch.clips import Frames, clip_progress, keep_frames, optimise_frames, write_kept
    from impasto.io.images import load_image

    folder = tmp_path / "in"
    folder.mkdir()
    clips = [make_clip(folder / "walk.mp4", frames=5)]
    styles = check_styles([style_path])
    with Manifest.open(tmp_path / "whole") as m:
        assert run_local(m, plan_batch(m, clips, styles, JOB), JOB, tiny_weights, Quiet()).ok
        whole = m.items()[0].output
    video = JOB.video_config
    with Manifest.open(tmp_path / "out") as m:
        item = m.get(plan_batch(m, clips, styles, JOB).run[0])
        style = load_image(item.style)
        progress = clip_progress(m, item)
        answers: list[Frames] = []
        for count in (2, 1, 4):  # 0-1, 2, 3-4
            if count == 1:  # a lost worker: the next call starts from the kept frames
                progress = clip_progress(m, item)
            answer = optimise_frames(Path(item.photo), style, video, tiny_weights, progress,
                                     count)  # fmt: skip
            answers.append(answer)
            progress = keep_frames(m, item, answer, progress)
        assert [[i for i, _, _ in a.frames] for a in answers] == [[0, 1], [2], [3, 4]]
        assert progress.done == 5
        write_kept(m, item, video, progress.done)
    a, b = _decoded(tmp_path / "whole" / whole), _decoded(tmp_path / "out" / item.output)
    assert a.shape == b.shape and (a - b).abs().max() <= 2 / 255
