"""Rendering of analysis results: paper tables (Markdown, LaTeX, CSV) and the HTML report."""
