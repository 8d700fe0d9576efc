"""`pantau-agent run`'s command line read without argparse, exactly as argparse reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import cli

ARGPARSE_SHAPES = [
    ["run"],
    ["run", "--config", "/srv/a.toml"],
    ["run", "--config=/srv/a.toml"],
    ["--log-level", "DEBUG", "run"],
    ["--log-level=WARNING", "run", "--config", "a.toml"],
    ["--log-level", "INFO", "--log-level", "ERROR", "run", "--config", "x", "--config", "y"],
]


@pytest.mark.parametrize("argv", ARGPARSE_SHAPES)
def test_run_is_read_as_argparse_reads_it(argv: list[str]) -> None:
    fast, slow = cli._run_args(argv), cli._parser().parse_args(argv)
    assert fast is not None
    assert (fast.command, fast.log_level, fast.config, fast.handler) == (
        slow.command, slow.log_level, slow.config, slow.handler)


@pytest.mark.parametrize("argv", [
    [], ["-h"], ["--version"], ["probe", "--config", "x"], ["check-config"], ["run", "--json"],
    ["run", "--config"], ["run", "--config", "-x"], ["--config", "x", "run"], ["run", "run"],
    ["run", "extra"], ["--log-level"], ["--log-level", "run"], ["run", "--conf", "x"],
])
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert cli._run_args(argv) is None


@pytest.mark.parametrize(("argv", "error"), [
    (["run", "--bogus"], "unrecognized arguments: --bogus"),
    (["run", "--config"], "argument --config: expected one argument"),
    (["--config", "x.toml", "run"], "invalid choice: 'x.toml'"),
])
def test_a_bad_run_line_gets_argparse_error(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert error in capsys.readouterr().err


def test_defaults_match_argparse() -> None:
    fast = cli._run_args(["run"])
    assert fast is not None
    assert (fast.log_level, fast.config) == ("INFO", Path("/etc/pantau/agent.toml"))
