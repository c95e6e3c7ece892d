"""Reads docs/seed-tables.txt (a copy of the shared spec) into tables and columns."""

import re
from dataclasses import dataclass, field
from pathlib import Path

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "seed-tables.txt"
TYPE_RE = re.compile(r"^(UUID|TEXT|BIGINT|INTEGER|BOOLEAN|JSONB|TIMESTAMP|VARCHAR\(\d+\))$")


@dataclass
class SpecTable:
    name: str
    columns: dict[str, str] = field(default_factory=dict)
    unique_together: list[tuple[str, ...]] = field(default_factory=list)


def load_spec() -> dict[str, SpecTable]:
    tables: dict[str, SpecTable] = {}
    current: SpecTable | None = None
    lines = SPEC_PATH.read_text().splitlines()
    for i, line in enumerate(lines):
        line = line.strip()
        if not line or line == "Database Tables":
            continue
        if re.fullmatch(r"[a-z_]+", line) and i + 1 < len(lines) and not lines[i + 1].startswith("|"):
            current = tables[line] = SpecTable(line)
            continue
        if line.startswith("Unique constraint"):
            for group in re.findall(r"\(([^)]*)\)", line):
                current.unique_together.append(tuple(c.strip() for c in group.split(",")))
            continue
        if not line.startswith("|") or line.startswith("| Column") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if TYPE_RE.match(cells[1]):
            current.columns[cells[0]] = cells[1]
        elif TYPE_RE.match(cells[0]):
            # Two rows of the spec lost their names: both are `email` (docs/data-model.md).
            current.columns["email"] = cells[0]
        else:
            raise ValueError(f"unreadable spec row: {line}")
    return tables
