"""Paper tables in Markdown, LaTeX (booktabs, best value per column in bold) and CSV."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd


def _fmt(value: object, digits: int) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{round(value, digits) + 0.0:.{digits}f}"  # no "-0.00"
    return str(value)


def to_markdown(frame: pd.DataFrame, caption: str, digits: int = 2) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_fmt(v, digits) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([f"*{caption}*", "", header, rule, *body]) + "\n"


def _latex_escape(text: str) -> str:
    for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("$", r"\$")):
        text = text.replace(char, escaped)
    return text


def to_latex(frame: pd.DataFrame, caption: str, best: dict[str, str] | None = None, digits: int = 2) -> str:
    """A booktabs table; ``best`` maps column → "min"/"max" to bold the best value of that column."""
    best = best or {}
    winners = {}
    for column, direction in best.items():
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.notna().any():
            winners[column] = values.min() if direction == "min" else values.max()
    align = "".join("r" if pd.api.types.is_numeric_dtype(frame[c]) else "l" for c in frame.columns)
    lines = [r"\begin{table}[t]", r"\centering", f"\\caption{{{_latex_escape(caption)}}}",
             f"\\begin{{tabular}}{{{align}}}", r"\toprule",
             " & ".join(_latex_escape(str(c)) for c in frame.columns) + r" \\", r"\midrule"]
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row):
            text = _latex_escape(_fmt(value, digits))
            if column in winners and isinstance(value, float) and not math.isnan(value) and value == winners[column]:
                text = f"\\textbf{{{text}}}"
            cells.append(text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_all(frame: pd.DataFrame, stem: Path, caption: str, best: dict[str, str] | None = None, digits: int = 2) -> list[Path]:
    """``stem``.md, .tex and .csv; returns the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".md"), stem.with_suffix(".tex"), stem.with_suffix(".csv")]
    paths[0].write_text(to_markdown(frame, caption, digits))
    paths[1].write_text(to_latex(frame, caption, best, digits))
    frame.to_csv(paths[2], index=False)
    return paths
