"""What the benchmarks do with their markdown: print it, and write it to ``--out`` when one is given."""

from __future__ import annotations

from pathlib import Path


def emit(lines: list[str], out: str | Path | None) -> str:
    """Join ``lines``, print them, write them (with a final newline) to ``out`` if given; returns the text."""
    text = "\n".join(lines).rstrip("\n")
    print(text)
    if out:
        Path(out).write_text(text + "\n")
    return text
