"""The batch manifest: items keyed by content and settings, their statuses, resume and retries."""

from __future__ import annotations

from pathlib import Path

import pytest

from impasto.batch.manifest import (
    DONE,
    FAILED,
    MANIFEST_NAME,
    QUEUED,
    RUNNING,
    Manifest,
    Settings,
    Source,
    check_folder,
)
from impasto.config import StyleConfig
from impasto.errors import OutputError

SETTINGS = Settings(StyleConfig(size=32, steps=2))


def _files(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(exist_ok=True)
    out = []
    for n in names:
        p = folder / n
        p.write_bytes(n.encode())  # distinct contents
        out.append(p)
    return out


def _sources(m: Manifest, paths: list[Path]) -> list[Source]:
    return [m.source(p) for p in paths]


def _complete(m: Manifest, item_id: int) -> None:
    item = m.start(item_id, "test")
    (m.folder / item.output).write_bytes(b"png")
    m.finish(item_id, 1.0, "test")


def test_items_round_trip_through_the_database(tmp_path: Path) -> None:
    photos = _files(tmp_path / "in", ["a.jpg", "b.jpg"])
    styles = _files(tmp_path / "st", ["starry.jpg", "scream.jpg"])
    out = tmp_path / "out"
    with Manifest.open(out) as m:
        plan = m.plan(_sources(m, photos), _sources(m, styles), SETTINGS)
        assert (plan.new, plan.skipped, plan.retried, len(plan.run)) == (4, 0, 0, 4)
        _complete(m, plan.run[0])
        m.start(plan.run[1], "w1")
        m.fail(plan.run[1], "bad photo\nwith a traceback")
    assert (out / MANIFEST_NAME).is_file()
    with Manifest.read(out) as m:
        items = m.items(SETTINGS.hash)
        assert [i.status for i in items] == [DONE, FAILED, QUEUED, QUEUED]
        assert items[0].seconds == 1.0 and items[0].worker == "test"
        assert items[1].error == "bad photo" and items[1].attempts == 1
        assert items[0].output == f"a__starry__{SETTINGS.hash[:8]}.png"
        assert len({i.output for i in items}) == 4
        assert m.counts().total == 4 and m.counts().done == 1
        assert list(m.settings()) == [SETTINGS.hash]


def test_the_same_command_again_skips_done_and_retries_failed(tmp_path: Path) -> None:
    photos = _files(tmp_path / "in", ["a.png", "b.png"])
    styles = _files(tmp_path / "st", ["s.png"])
    with Manifest.open(tmp_path / "out") as m:
        first = m.plan(_sources(m, photos), _sources(m, styles), SETTINGS)
        _complete(m, first.run[0])
        m.start(first.run[1], "w")
        m.fail(first.run[1], "boom")
        again = m.plan(_sources(m, photos), _sources(m, styles), SETTINGS)
        assert (again.new, again.skipped, again.retried) == (0, 1, 1)
        assert again.run == (first.run[1],)
        assert m.get(first.run[1]).status == QUEUED
        assert m.get(first.run[1]).error == "boom"  # kept until the retry succeeds


def test_failed_items_give_up_after_max_attempts(tmp_path: Path) -> None:
    photos = _files(tmp_path / "in", ["a.png"])
    styles = _files(tmp_path / "st", ["s.png"])
    with Manifest.open(tmp_path / "out") as m:
        for _ in range(2):
            plan = m.plan(_sources(m, photos), _sources(m, styles), SETTINGS, max_attempts=2)
            assert len(plan.run) == 1
            m.start(plan.run[0], "w")
            m.fail(plan.run[0], "boom")
        plan = m.plan(_sources(m, photos), _sources(m, styles), SETTINGS, max_attempts=2)
        assert plan.run == () and len(plan.given_up) == 1
        assert m.get(plan.given_up[0]).status == FAILED
        assert m.get(plan.given_up[0]).attempts == 2


def test_new_inputs_and_changed_settings_make_new_items(tmp_path: Path) -> None:
    photos = _files(tmp_path / "in", ["a.png"])
    styles = _files(tmp_path / "st", ["s.png"])
    with Manifest.open(tmp_path / "out") as m:
        first = m.plan(_sources(m, photos), _sources(m, styles), SETTINGS)
        _complete(m, first.run[0])
        photos += _files(tmp_path / "in", ["b.png"])
        more = m.plan(_sources(m, photos), _sources(m, styles), SETTINGS)
        assert (more.new, more.skipped, len(more.run)) == (1, 1, 1)
        other = Settings(StyleConfig(size=32, steps=3))
        changed = m.plan(_sources(m, photos), _sources(m, styles), other)
        assert (changed.new, changed.skipped, len(changed.run)) == (2, 0, 2)
        names = {m.get(i).output for i in changed.run}
        assert all(other.hash[:8] in n for n in names)
        assert m.counts().total == 4
        assert len(m.settings()) == 2


def test_an_item_is_its_contents_not_its_path(tmp_path: Path) -> None:
    (photo,) = _files(tmp_path / "in", ["a.png"])
    styles = _files(tmp_path / "st", ["s.png"])
    with Manifest.open(tmp_path / "out") as m:
        first = m.plan(_sources(m, [photo]), _sources(m, styles), SETTINGS)
        _complete(m, first.run[0])
        moved = photo.rename(tmp_path / "in" / "renamed.png")
        twice = m.plan(_sources(m, [moved, moved]), _sources(m, styles), SETTINGS)
        assert (twice.new, twice.skipped, twice.run) == (0, 1, ())
        moved.write_bytes(b"edited in place")
        edited = m.plan(_sources(m, [moved]), _sources(m, styles), SETTINGS)
        assert edited.new == 1


def test_same_names_different_contents_get_different_outputs(tmp_path: Path) -> None:
    (a,) = _files(tmp_path / "one", ["a.png"])
    (b,) = _files(tmp_path / "two", ["a.png"])
    b.write_bytes(b"other bytes")
    styles = _files(tmp_path / "st", ["s.png"])
    with Manifest.open(tmp_path / "out") as m:
        plan = m.plan(_sources(m, [a, b]), _sources(m, styles), SETTINGS)
        outputs = [m.get(i).output for i in plan.run]
        assert len(set(outputs)) == 2


def test_a_running_item_found_at_start_is_retried(tmp_path: Path) -> None:
    photos = _files(tmp_path / "in", ["a.png"])
    styles = _files(tmp_path / "st", ["s.png"])
    m = Manifest.open(tmp_path / "out")
    plan = m.plan(_sources(m, photos), _sources(m, styles), SETTINGS)
    m.start(plan.run[0], "a process that then died")
    m.close()  # as a killed process would leave it (the lock goes with the process)
    with Manifest.open(tmp_path / "out") as m:
        again = m.plan(_sources(m, photos), _sources(m, styles), SETTINGS)
        assert again.run == plan.run
        item = m.get(plan.run[0])
        assert item.status == QUEUED and item.attempts == 1
        assert "stopped" in (item.error or "")


def test_release_does_not_count_the_attempt(tmp_path: Path) -> None:
    photos = _files(tmp_path / "in", ["a.png"])
    styles = _files(tmp_path / "st", ["s.png"])
    with Manifest.open(tmp_path / "out") as m:
        (item_id,) = m.plan(_sources(m, photos), _sources(m, styles), SETTINGS).run
        assert m.start(item_id, "w").status == RUNNING
        m.release(item_id)
        assert (m.get(item_id).status, m.get(item_id).attempts) == (QUEUED, 0)


def test_a_done_item_whose_output_was_deleted_runs_again(tmp_path: Path) -> None:
    photos = _files(tmp_path / "in", ["a.png"])
    styles = _files(tmp_path / "st", ["s.png"])
    with Manifest.open(tmp_path / "out") as m:
        (item_id,) = m.plan(_sources(m, photos), _sources(m, styles), SETTINGS).run
        _complete(m, item_id)
        (m.folder / m.get(item_id).output).unlink()
        assert m.plan(_sources(m, photos), _sources(m, styles), SETTINGS).run == (item_id,)


def test_unreadable_inputs_are_recorded_not_fatal(tmp_path: Path) -> None:
    styles = _files(tmp_path / "st", ["s.png"])
    with Manifest.open(tmp_path / "out") as m:
        missing = m.source(tmp_path / "gone.png")
        assert missing.hash.startswith("unreadable:")
        plan = m.plan([missing], _sources(m, styles), SETTINGS)
        assert len(plan.run) == 1


def test_one_batch_at_a_time_per_folder(tmp_path: Path) -> None:
    with Manifest.open(tmp_path / "out"), pytest.raises(OutputError, match="another"):
        Manifest.open(tmp_path / "out")
    Manifest.open(tmp_path / "out").close()  # the lock went with the first


def test_output_folder_checks(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_folder(f)
    with pytest.raises(OutputError, match="cannot make"):
        check_folder(f / "sub")
    with pytest.raises(OutputError, match="no batch manifest"):
        Manifest.read(tmp_path)
    assert check_folder(tmp_path / "new" / "deep").is_dir()
