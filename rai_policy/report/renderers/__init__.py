"""Renderers: one module per format, each `render(report) -> str` over the frozen Report.

They only render: every number they show is already in the report.
"""
from __future__ import annotations

from importlib import import_module

RENDERERS = {
    "console": "rai_policy.report.renderers.console",
    "json": "rai_policy.report.renderers.json_report",
    "junit": "rai_policy.report.renderers.junit",
    "sarif": "rai_policy.report.renderers.sarif",
    "markdown": "rai_policy.report.renderers.markdown",
    "html": "rai_policy.report.renderers.html",
}


def formats() -> list[str]:
    return sorted(RENDERERS)


def renderer(fmt: str):
    return import_module(RENDERERS[fmt]).render
