"""Shared by the benchmarks: time a call, print a table and rewrite one marked section of docs/benchmarks.md."""

from __future__ import annotations

import platform
import re
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def timed_ms(function, repeats: int):
    """Milliseconds of ``repeats`` calls (a numpy array), after one warm-up call (which loads models)."""
    import numpy as np

    function()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return np.array(seconds) * 1000


def machine() -> str:
    import os

    from toonbridge.precision import cpu_description

    return f"{platform.processor() or platform.machine()} ({cpu_description()}), {os.cpu_count()} cores, Python {platform.python_version()}"


# The tables were first measured on AVX-512 CPUs. Another instruction set (AVX2: bf16 emulated, so training runs
# in fp32; the bitmoji recipe trains 2.1x slower) writes its own section beside them, ``<name>-avx2``, instead of
# replacing them.
MAIN_INSTRUCTION_SET = "AVX512"


def section_name(name: str) -> str:
    from toonbridge.precision import cpu_description

    found = cpu_description()
    return name if found == MAIN_INSTRUCTION_SET else f"{name}-{re.sub('[^a-z0-9]+', '-', found.lower())}"


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    table = Table(*header, title=title)
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    Console().print(table)


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def update_section(name: str, body: str, command: str) -> None:
    """Replace the text between ``<!-- begin:name -->`` and ``<!-- end:name -->`` (appending it if absent); ``name``
    as :func:`section_name` gives it for this CPU."""
    name = section_name(name)
    stamp = f"_Measured {time.strftime('%Y-%m-%d')} on {machine()} with `{command}`._"
    block = f"<!-- begin:{name} -->\n{stamp}\n\n{body.strip()}\n<!-- end:{name} -->"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"<!-- begin:{re.escape(name)} -->.*?<!-- end:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
