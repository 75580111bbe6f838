"""``impasto serve``'s arguments and wiring (uvicorn itself is replaced by a stub)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from impasto.cli import main as impasto_main
from impasto.cli import serve as web_cli
from impasto.web.app import LOOPBACK_HOSTS


def module_main(argv: list[str]) -> int:
    """``python -m impasto serve ...`` (it was ``python -m impasto.web``: the studio's package
    does not import the command line above it)."""
    return impasto_main(["serve", *argv])


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="impasto")
    sub = parser.add_subparsers(dest="command", required=True)
    web_cli.add_serve_parser(sub)
    return parser.parse_args(["serve", *argv])


def test_serve_defaults_bind_to_localhost() -> None:
    args = parse()
    assert (args.host, args.port, args.workers, args.data_dir) == ("127.0.0.1", 8000, 1, None)


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMPASTO_STUDIO_DIR", str(tmp_path / "x"))
    assert web_cli.default_data_dir() == tmp_path / "x"
    monkeypatch.delenv("IMPASTO_STUDIO_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert web_cli.default_data_dir() == tmp_path / ".impasto" / "studio"


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    return calls


def test_run_serve_builds_the_app_and_runs_uvicorn(
    uvicorn_calls: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = web_cli.run_serve(parse("--port", "8123", "--data-dir", str(tmp_path / "d")))
    assert code == 0
    (call,) = uvicorn_calls
    assert (call["host"], call["port"]) == ("127.0.0.1", 8123)
    assert (tmp_path / "d" / "studio.sqlite3").is_file()
    assert call["app"].state.manager.workers == 1
    hosts = [m for m in call["app"].user_middleware if "allowed_hosts" in m.kwargs]
    assert hosts and hosts[0].kwargs["allowed_hosts"] == LOOPBACK_HOSTS
    assert "http://127.0.0.1:8123/" in capsys.readouterr().err


def test_run_serve_passes_the_audio_limit(
    uvicorn_calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    assert web_cli.run_serve(parse("--max-audio-seconds", "12.5", "--data-dir", str(tmp_path))) == 0
    assert uvicorn_calls[0]["app"].state.studio.limits.max_audio_seconds == 12.5


def test_run_serve_on_all_interfaces_warns(
    uvicorn_calls: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert web_cli.run_serve(parse("--host", "0.0.0.0", "--data-dir", str(tmp_path))) == 0
    assert not any("allowed_hosts" in m.kwargs for m in uvicorn_calls[0]["app"].user_middleware)
    assert "no login" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ("--workers", "0"),
        ("--port", "70000"),
        ("--queue-size", "0"),
        ("--weights", "/nope.pth"),
        ("--keep-uploads", "0"),
        ("--max-audio-seconds", "0"),
    ],
)
def test_run_serve_refuses_bad_arguments(
    uvicorn_calls: list[dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
) -> None:
    assert web_cli.run_serve(parse(*argv, "--data-dir", str(tmp_path))) == 2
    assert uvicorn_calls == []
    assert capsys.readouterr().err.startswith("impasto: error:")


def test_python_m_impasto_web(uvicorn_calls: list[dict[str, Any]], tmp_path: Path) -> None:
    assert module_main(["--port", "9001", "--data-dir", str(tmp_path)]) == 0
    assert uvicorn_calls[0]["port"] == 9001


def test_the_docs_show_the_studio_limits_the_code_has() -> None:
    """docs/studio.md's option table shows impasto serve's defaults, which are the studio's
    Limits (web/limits.py): each figure is written once in code and checked here."""
    import re

    from impasto.web.limits import DEFAULTS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "studio.md").read_text()
    rows = dict(re.findall(r"^\| `(--[a-z-]+)` \| `([^`]*)` \|", doc, re.MULTILINE))
    defaults = vars(parse())
    checked = 0
    for flag, shown in rows.items():
        value = defaults[flag[2:].replace("-", "_")]
        if value is not None:
            assert shown == (f"{value:g}" if isinstance(value, float) else str(value)), flag
            checked += 1
    assert checked >= 12
    assert f"at most {DEFAULTS.max_steps} steps" in doc
    assert "`--workers 0` is refused" in doc  # as run_serve does (test above)
    assert defaults["max_audio_seconds"] == DEFAULTS.max_audio_seconds
