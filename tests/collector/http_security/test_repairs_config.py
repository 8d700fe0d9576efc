"""`[repairs]`: defaults, the shipped example, and every refusal with its exact text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.config import CliOverrides, load_collector_config
from collector.http_passwords import users_line
from pantau.config import ConfigError

REPO = Path(__file__).resolve().parents[3]


def load(tmp_path: Path, body: str, users: tuple[str, ...] = ("budi", "prometheus")) -> object:
    (tmp_path / "users").write_text("".join(users_line(u, "pw", n=16) + "\n" for u in users))
    path = tmp_path / "collector.toml"
    path.write_text(f'[http]\nbasic_auth_users_file = "{tmp_path / "users"}"\n{body}')
    return load_collector_config(path, CliOverrides()).repairs


def test_defaults_and_a_writer(tmp_path: Path) -> None:
    assert load(tmp_path, "") == load(tmp_path, "[repairs]\n")
    repairs = load(tmp_path, '[repairs]\nmin_open_s = 30\nwriters = ["budi"]\n')
    assert (repairs.min_open_s, repairs.writers) == (30.0, ("budi",))  # type: ignore[attr-defined]
    assert load_collector_config(None, CliOverrides()).repairs.min_open_s == 120.0


def test_the_example_writers_work_once_uncommented(tmp_path: Path) -> None:
    text = (REPO / "deploy" / "collector.example.toml").read_text()
    text, count = re.subn(r'^# writers = (\[.*\]).*$', r"writers = \1", text, flags=re.M)
    assert count == 1
    text = re.sub(r"^writers = \[\]$", "", text, flags=re.M)
    text = re.sub(r'^# basic_auth_users_file = ".*"$',
                  f'basic_auth_users_file = "{tmp_path / "users"}"', text, flags=re.M)
    (tmp_path / "users").write_text("".join(users_line(u, "pw", n=16) + "\n"
                                            for u in ("budi", "sari")))
    (tmp_path / "collector.toml").write_text(text)
    config = load_collector_config(tmp_path / "collector.toml", CliOverrides())
    assert config.repairs.writers == ("budi", "sari")


@pytest.mark.parametrize(("body", "users", "key", "reason"), [
    ("[repairs]\nmin_open_s = -1\n", ("budi",), "repairs.min_open_s",
     "expected seconds from 0 to 604800 (7 days), got integer -1"),
    ('[repairs]\nmin_open_s = "2m"\n', ("budi",), "repairs.min_open_s",
     'expected seconds from 0 to 604800 (7 days), got string "2m"'),
    ('[repairs]\nwriters = "budi"\n', ("budi",), "repairs.writers",
     'expected an array of user names like ["budi"], got string "budi"'),
    ("[repairs]\nwriters = [1]\n", ("budi",), "repairs.writers[0]",
     "expected a user name, got integer 1"),
    ('[repairs]\nwriters = ["budi", "bdui"]\n', ("budi",), "repairs.writers[1]",
     '"bdui" is not a user of [http] basic_auth_users_file; add the user '
     "(pantau-collector hash-password) or fix the name"),
    ("[repairs]\nwho = 1\n", ("budi",), "repairs.who",
     "unknown key; expected one of: min_open_s, writers"),
])
def test_refusals(tmp_path: Path, body: str, users: tuple[str, ...], key: str,
                  reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, body, users)
    assert (caught.value.key, caught.value.reason) == (key, reason)


def test_writers_without_basic_auth_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "collector.toml"
    path.write_text('[repairs]\nwriters = ["budi"]\n')
    with pytest.raises(ConfigError) as caught:
        load_collector_config(path, CliOverrides())
    assert (caught.value.key, caught.value.reason) == (
        "repairs.writers", "needs [http] basic_auth_users_file: writers are basic-auth users; "
                           "set it, or remove writers")
