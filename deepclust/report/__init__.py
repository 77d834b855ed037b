"""The run report: a self-contained HTML page built from a run folder's files only."""

from deepclust.report.html import write_report

__all__ = ["write_report"]
