"""CSV as Rocket.Chat's page writes it: `;`-separated, every cell in double quotes (inner quotes doubled), `\\n`
after every row including the header.

A cell that a spreadsheet would run as a formula (it starts with =, +, -, @, a tab or a carriage return: a room
named `=HYPERLINK(...)`, say) gets a leading `'`, so that opening an export never runs what a user typed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

Lines = AsyncIterator[str]  # a CSV's rows, each a quoted line, possibly streamed

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object, text: bool = False) -> str:
    """One quoted cell; `text` marks user-written text, which is kept from reading as a formula."""
    s = str(value)
    if text and s.startswith(FORMULA_STARTS):
        s = "'" + s
    return '"' + s.replace('"', '""') + '"'


def line(cells: Iterable[str]) -> str:
    return ";".join(cells) + "\n"


@dataclass
class Table:
    """A CSV answer: its download name, its header and its rows (already quoted lines), possibly streamed."""

    filename: str
    header: list[str]
    lines: Lines

    def head(self) -> str:
        return line(cell(h) for h in self.header)


async def lines_of(rows: Iterable[Iterable[object]], text_columns: tuple[int, ...] = ()) -> Lines:
    """Quoted lines from rows of plain cells (the columns in `text_columns` hold user-written text)."""
    for row in rows:
        yield line(cell(v, i in text_columns) for i, v in enumerate(row))
