"""PNG plots of bench/report.json: the curves a reader should see at a glance."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _line(ax: Any, xs: Sequence[float], series: dict[str, list[float]], xlabel: str, title: str) -> None:
    for label, ys in series.items():
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("ms")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()


def _history(result: dict[str, Any], out: Path) -> None:
    sizes = result.get("sizes", {})
    xs = sorted(int(s) for s in sizes)
    if not xs:
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    series = {
        f"{kind} {q}": [sizes[str(x)][kind][f"{q}_ms"] for x in xs]
        for kind in ("api_page1", "api_deep_cursor", "direct_page1")
        for q in ("p50", "p99")
        if all(kind in sizes[str(x)] for x in xs)
    }
    _line(ax, xs, series, "messages in the database", "History page latency vs database size")
    ax.set_xscale("log")
    fig.savefig(out / "history.png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def _realtime(result: dict[str, Any], out: Path) -> None:
    rows = result.get("insert_to_delivery", [])
    if not rows:
        return
    xs = [r["subscribers"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    _line(
        ax,
        xs,
        {q: [r[f"{q}_ms"] for r in rows] for q in ("p50", "p99")},
        "subscribers",
        "Realtime delivery latency (commit to client)",
    )
    ax.set_xscale("log")
    fig.savefig(out / "realtime.png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def _first_token(result: dict[str, Any], out: Path) -> None:
    points = sorted(
        (int(m.group(1)), value)
        for key, value in result.items()
        if (m := re.fullmatch(r"added_ttft_(\d+)", key)) and isinstance(value, dict)
    )
    if not points:
        return
    xs = [n for n, _ in points]
    fig, ax = plt.subplots(figsize=(7, 4))
    _line(
        ax,
        xs,
        {q: [v[f"{q}_ms"] for _, v in points] for q in ("p50", "p99")},
        "concurrent conversations",
        "Added latency to first token",
    )
    fig.savefig(out / "first_token.png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def _rest(result: dict[str, Any], out: Path) -> None:
    scenarios = result.get("scenarios", {})
    if not scenarios:
        return
    names = list(scenarios)
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.38
    for offset, side in ((-width / 2, "rest"), (width / 2, "baseline")):
        ax.bar(
            [i + offset for i in range(len(names))], [scenarios[n][side]["req_per_s"] for n in names], width, label=side
        )
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("requests/s")
    ax.set_title("Local REST vs hand-written Litestar + asyncpg")
    ax.legend()
    fig.savefig(out / "rest.png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def draw(report: dict[str, Any], out: Path) -> None:
    out.mkdir(exist_ok=True)
    results = report.get("results", {})
    for name, plot in (("api", _history), ("realtime", _realtime), ("worker", _first_token), ("rest", _rest)):
        result = results.get(name, {})
        if result.get("status") == "ok":
            plot(result, out)
