"""What an instructor reads after grading: a score table, two CSV files and one plot.

- ``grades.csv``: student, assignment, score, max_score, reason (empty when nothing unusual);
- ``grades_by_part.csv``: one column per graded part (its test cells summed), max in row 2;
- ``parts.png``: per part, the share of students with full, partial and zero marks, so the
  part the class struggled with stands out.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.grading.cells import part_of, parts_in_order


@dataclass
class StudentRow:
    student: str
    score: float
    max_score: float
    parts: dict[str, float]
    reason: str = ""


@dataclass
class ClassReport:
    assignment: str
    parts: list[str]
    part_max: dict[str, float]
    rows: list[StudentRow] = field(default_factory=list)

    @property
    def max_score(self) -> float:
        return sum(self.part_max.values())

    def part_mean(self, part: str) -> float:
        return sum(row.parts[part] for row in self.rows) / max(len(self.rows), 1)


def build_report(assignment: str, test_ids: list[str],
                 scores: dict[str, dict[str, tuple[float, float]]],
                 reasons: dict[str, str]) -> ClassReport:
    """Sum each student's test cells per part; ``test_ids`` gives the parts' order."""
    known = dict.fromkeys(test_ids)
    for per_cell in scores.values():  # cells the gradebook has but the source lost
        known.update(dict.fromkeys(sorted(per_cell)))
    ordered = list(known)
    max_by_cell = {gid: m for per_cell in scores.values() for gid, (_, m) in per_cell.items()}
    parts = parts_in_order(ordered)
    part_max = {p: sum(max_by_cell.get(g, 0.0) for g in ordered if part_of(g) == p)
                for p in parts}
    report = ClassReport(assignment, parts, part_max)
    for student in sorted(reasons):
        per_cell = scores.get(student, {})
        per_part = {p: sum(per_cell.get(g, (0.0, 0.0))[0] for g in ordered if part_of(g) == p)
                    for p in parts}
        report.rows.append(StudentRow(student, sum(per_part.values()), report.max_score,
                                      per_part, reasons[student]))
    return report


def _num(value: float) -> str:
    return f"{value:g}"


def format_table(report: ClassReport) -> str:
    """A plain-text score table: one line per student, the class mean last."""
    header = ["student", "score", *report.parts, "reason"]
    lines = [[row.student, f"{_num(row.score)}/{_num(row.max_score)}",
              *(f"{_num(row.parts[p])}/{_num(report.part_max[p])}" for p in report.parts),
              row.reason] for row in report.rows]
    mean = sum(row.score for row in report.rows) / max(len(report.rows), 1)
    lines.append(["mean", f"{mean:.1f}/{_num(report.max_score)}",
                  *(f"{report.part_mean(p):.1f}" for p in report.parts), ""])
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False))
        + "  " + line[-1]
        for line in [header, *lines]
    ).rstrip()


def write_grades_csv(report: ClassReport, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", "score", "max_score", "reason"])
        for row in report.rows:
            writer.writerow([row.student, report.assignment, _num(row.score),
                             _num(row.max_score), row.reason])


def write_parts_csv(report: ClassReport, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *report.parts])
        writer.writerow(["(max)", *(_num(report.part_max[p]) for p in report.parts)])
        for row in report.rows:
            writer.writerow([row.student, *(_num(row.parts[p]) for p in report.parts)])


def plot_parts(report: ClassReport, path: Path) -> None:
    """Stacked bars, one per part: share of students with full, partial and zero marks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(report.rows), 1)
    shares = {"full marks": [], "partial": [], "zero": []}
    for part in report.parts:
        top = report.part_max[part]
        got = [row.parts[part] for row in report.rows]
        full = sum(top > 0 and g >= top for g in got)
        zero = sum(g <= 0 for g in got)
        for key, count in zip(shares, (full, len(got) - full - zero, zero), strict=True):
            shares[key].append(100 * count / n)
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(report.parts) + 1.6))
    left = [0.0] * len(report.parts)
    for (label, values), color in zip(shares.items(), ("#2a9d8f", "#e9c46a", "#e76f51"),
                                      strict=True):
        ax.barh(report.parts, values, left=left, color=color, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for y, part in enumerate(report.parts):
        mean = 100 * report.part_mean(part) / report.part_max[part] if report.part_max[part] else 0
        ax.text(101, y, f"mean {mean:.0f}%", va="center", fontsize=9)
    ax.invert_yaxis()  # notebook order, top to bottom
    ax.set_xlim(0, 115)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel("students (%)")
    ax.set_title(f"{report.assignment}: marks per part ({len(report.rows)} students)")
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))  # room for the legend underneath
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_reports(report: ClassReport, folder: Path) -> list[Path]:
    """grades.csv, grades_by_part.csv and parts.png into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "grades.csv", folder / "grades_by_part.csv", folder / "parts.png"]
    write_grades_csv(report, paths[0])
    write_parts_csv(report, paths[1])
    plot_parts(report, paths[2])
    return paths
