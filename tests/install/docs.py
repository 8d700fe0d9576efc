"""The shell blocks of an install doc, in order, with the section each is in.

A block the install test cannot run is marked in the doc itself, on the line
before its fence: `<!-- not run in the install test: REASON -->`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
SKIP = re.compile(r"<!--\s*not run in the install test:\s*(.+?)\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")
SHELL = {"sh", "bash", "shell"}


@dataclass(frozen=True)
class Block:
    doc: str
    section: str  # the "## " heading it is under
    line: int  # of the opening fence, 1-based
    code: str
    skip: str | None  # why the install test does not run it

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line} ({self.section})"


def blocks(name: str) -> list[Block]:
    lines = (DOCS / name).read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    section, pending_skip, i = "", None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        marker = SKIP.search(line)
        if marker:
            pending_skip = marker[1]
        fence = FENCE.match(line)
        if fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            if fence[1] in SHELL:
                found.append(Block(name, section, i + 1, "\n".join(lines[i + 1:end]) + "\n",
                                   pending_skip))
            pending_skip = None
            i = end
        elif line.strip() and not marker:
            pending_skip = None  # a marker applies to the block right after it
        i += 1
    return found


def listed_paths(name: str, section: str) -> list[str]:
    """Absolute paths in `backticks` inside one "## " section: what the doc says stays."""
    text = (DOCS / name).read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start:end if end != -1 else None]
    return re.findall(r"`(/[^`\s]+)`", body)
