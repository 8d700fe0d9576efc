"""Hypothesis fuzzing of config loading: only ConfigError / RegistryError, never a crash.

Starts from the shipped, valid files (agent override + test profile, the
collector example, the fleet example), mutates the parsed documents — a value
replaced by junk of any TOML type, a key deleted or added — writes them back
as TOML and loads them with the real loaders. A second family mutates the raw
text (truncation, byte flips) to reach the TOML parser's error paths.
"""

from __future__ import annotations

import datetime
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.config import load_config
from collector.config import CliOverrides, load_collector_config
from collector.registry import RegistryError, load_registry
from pantau.config import ConfigError
from tests.fuzz import samples
from tests.fuzz.toml_text import toml_document

REPO = Path(__file__).resolve().parents[2]
AGENT_DIR = REPO / "tests" / "agent" / "config"
PROFILES = [AGENT_DIR / "profiles"]
FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

Loader = Callable[[Path], object]
LOADERS: dict[str, tuple[Path, Loader, type[Exception]]] = {
    "agent": (AGENT_DIR / "good" / "override.toml", lambda p: load_config(p, PROFILES),
              ConfigError),
    "collector": (REPO / "deploy" / "collector.example.toml",
                  lambda p: load_collector_config(p, CliOverrides()), ConfigError),
    "registry": (REPO / "deploy" / "fleet.example.toml", load_registry, RegistryError),
}

SIDE_FILES: dict[str, tuple[str, ...]] = {"registry": ("holidays-id.toml",)}

TOML_LEAVES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(), st.booleans(),
    st.text(max_size=30), st.sampled_from(["", "..", "/", "medan-baru", "0", "-1", "mqtt://",
                                           "mqtts://h:0", "tcp", "usb", "retired", "HDMI-A-*"]),
    st.dates(), st.times(),
)
TOML_JUNK = st.recursive(
    TOML_LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)


def loads_or_refuses(which: str, text: bytes) -> None:
    """Load `text` as the `which` file; only its own error class may come out."""
    source, load, error = LOADERS[which]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_bytes(text)
        for name in SIDE_FILES.get(which, ()):  # files the starting file names, relatively
            (Path(tmp) / name).write_bytes((source.parent / name).read_bytes())
        try:
            load(path)
        except error as exc:
            assert str(path) in str(exc)  # the message names the file at fault


@st.composite
def mutated_document(draw: st.DrawFn, which: str) -> bytes:
    doc: Any = tomllib.loads(LOADERS[which][0].read_text())
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in samples.node_paths(doc) if p] or [()]))
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if op == "delete" and path:
            doc = samples.delete_at(doc, path)
        elif op == "add":
            doc[draw(st.text(max_size=10))] = draw(TOML_JUNK)
        elif path:
            doc = samples.replace_at(doc, path, draw(TOML_JUNK))
    return toml_document(doc).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("which", list(LOADERS))
def test_the_starting_files_load(which: str) -> None:
    source, load, _ = LOADERS[which]
    # Relative paths in the starting files resolve next to them, so load them in place.
    assert load(source) is not None
    loads_or_refuses(which, toml_document(tomllib.loads(source.read_text())).encode())


@pytest.mark.parametrize("which", list(LOADERS))
@FUZZ
@given(data=st.data())
def test_mutated_documents_load_or_are_refused(which: str, data: st.DataObject) -> None:
    loads_or_refuses(which, data.draw(mutated_document(which)))


@pytest.mark.parametrize("which", list(LOADERS))
@FUZZ
@given(data=st.data())
def test_mutated_text_loads_or_is_refused(which: str, data: st.DataObject) -> None:
    text = LOADERS[which][0].read_text()
    cut = data.draw(st.integers(0, len(text)))
    insert = data.draw(st.sampled_from(["", "=", "[", "]]", '"', "\\", "\x00", "\n[broker]\n",
                                        "\U0001f4a9", "1e999", "{"]))
    loads_or_refuses(which, (text[:cut] + insert + text[cut:]).encode("utf-8"))


@pytest.mark.parametrize("which", ["agent", "collector", "registry"])
def test_a_file_that_is_not_utf8_is_refused(which: str) -> None:
    loads_or_refuses(which, b"\xff\xfe" + LOADERS[which][0].read_bytes())


def test_dates_in_place_of_strings_are_refused() -> None:
    doc = tomllib.loads(LOADERS["agent"][0].read_text())
    doc["station"] = datetime.date(2024, 1, 1)
    with pytest.raises(ConfigError, match="station"), tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agent.toml"
        path.write_text(toml_document(doc))
        load_config(path, PROFILES)
