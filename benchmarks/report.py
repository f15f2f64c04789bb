"""Markdown tables from benchmark results, for docs/performance.md.

::

    python -m benchmarks.report benchmarks/results/queries-*.json benchmarks/results/seed-*.json

Seed and ingest results become one table each (a row per run or per ingest run); query
results become one table with a column group per results file (p50, p95 and loaded
requests/s per query kind), so growth from 10^4 to 10^6 frames reads across a row.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "markdown_tables"]


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _load(document: dict[str, Any]) -> str:
    load = document.get("load_average", {})
    return f"{load.get('mean')} (max {load.get('max')})"


def seed_table(documents: list[dict[str, Any]]) -> str:
    rows = []
    for d in documents:
        r, p = d["results"], d["parameters"]
        seconds = r["seconds"]
        rows.append(
            (
                p["vendor"],
                r["frames"],
                sum(r["rows"].values()),
                seconds.get("generate_and_copy"),
                seconds.get("build_indexes"),
                seconds.get("analyze"),
                r["total_seconds"],
                r.get("seed_process_cpu_seconds"),
                round((r.get("database_bytes") or 0) / 1e9, 2),
                _load(d),
            )
        )
    return _table(
        [
            "database",
            "frames",
            "rows (all tables)",
            "load s",
            "indexes s",
            "analyze s",
            "total s",
            "seed CPU s",
            "size GB",
            "load average",
        ],
        rows,
    )


def queries_table(documents: list[dict[str, Any]]) -> str:
    header = ["query", "target p50 ms"]
    for d in documents:
        archive = d["results"]["archive"]
        label = d["parameters"].get("label") or (
            f"{d['parameters'].get('database_vendor') or 'remote'} ~{archive['count_estimate']:,}"
        )
        header += [f"{label} p50", "p95", f"req/s x{d['parameters']['concurrency']}"]
    names: list[str] = []
    for d in documents:
        for entry in d["results"]["queries"]:
            if entry["name"] not in names:
                names.append(entry["name"])
    rows = []
    for name in names:
        row: list[Any] = [name, None]
        for d in documents:
            entry = next((e for e in d["results"]["queries"] if e["name"] == name), None)
            if entry is None or "skipped" in entry:
                row += [None, None, None]
                continue
            row[1] = entry.get("target_p50_ms")
            single, loaded = entry["single_client"], entry["concurrent"]
            row += [single.get("p50_ms"), single.get("p95_ms"), loaded.get("requests_per_second")]
        rows.append(row)
    loads = "; ".join(_load(d) for d in documents)
    return _table(header, rows) + f"\n\nLoad average during the runs: {loads}."


def ingest_table(documents: list[dict[str, Any]]) -> str:
    rows = []
    for d in documents:
        for r in d["results"]["runs"]:
            rows.append(
                (
                    f"{r['database']}/{r['store']}",
                    r["workers"],
                    "on" if r.get("previews") else "off",
                    r["size"],
                    r["files"],
                    r["mean_file_mb"],
                    r["files_per_second"],
                    r["mb_per_second"],
                    round(100 * r["bound_ratio"], 1),
                    round(100 * r["store_bound_ratio"], 1) if "store_bound_ratio" in r else None,
                    r["peak_growth_mb"],
                    r["peak_rss_mb"],
                    r["not_ingested"],
                )
            )
    loads = "; ".join(_load(d) for d in documents)
    return (
        _table(
            [
                "archive/store",
                "workers",
                "previews",
                "size",
                "files",
                "MB/file",
                "files/s",
                "MB/s",
                "% of bound",
                "% of S3 bound",
                "peak growth MB",
                "peak RSS MB",
                "failed",
            ],
            rows,
        )
        + f"\n\nLoad average during the runs: {loads}."
    )


def markdown_tables(paths: Sequence[Path]) -> str:
    """One markdown table per kind of benchmark found among ``paths``."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        document = json.loads(Path(path).read_text())
        groups.setdefault(document["benchmark"], []).append(document)
    parts = []
    makers = {"seed": seed_table, "queries": queries_table, "ingest": ingest_table}
    for name, maker in makers.items():
        if name in groups:
            parts.append(f"### {name}\n\n{maker(groups[name])}")
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="RESULTS.json")
    args = parser.parse_args(argv)
    print(markdown_tables(args.paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
