"""The report: a JSON document per run, a readable table, and the side-by-side comparison."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from loadtest.modes import Mode
from loadtest.runner import RunOutcome, describe_workload
from loadtest.stats import percentile, summary_ms

MAX_LISTED = 20
LATENCY_SOURCE = {
    Mode.PIPELINE: "publish -> outcome received",
    Mode.LOCKED: "call -> commit",
    Mode.DIRECT: "call -> commit",
    Mode.LEGACY: "call -> last statement",
}


def batch_summary(sizes: list[int] | None) -> dict[str, Any]:
    if sizes is None:
        return {"available": False, "note": "intent_log has no txid column yet"}
    ordered = sorted(sizes)
    buckets = {"1": 0, "2-4": 0, "5-16": 0, "17-64": 0, "65+": 0}
    for size in ordered:
        label = (
            "1"
            if size == 1
            else "2-4"
            if size <= 4
            else "5-16"
            if size <= 16
            else "17-64"
            if size <= 64
            else "65+"
        )
        buckets[label] += 1
    return {
        "available": True,
        "transactions": len(ordered),
        "intents": sum(ordered),
        "mean": round(sum(ordered) / len(ordered), 2) if ordered else 0.0,
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "max": ordered[-1] if ordered else 0,
        "histogram": buckets,
    }


def as_dict(outcome: RunOutcome) -> dict[str, Any]:
    stats, check = outcome.stats, outcome.verification
    is_pipeline = outcome.mode is Mode.PIPELINE
    return {
        "mode": str(outcome.mode),
        "namespace": outcome.names.namespace,
        "workload": describe_workload(outcome),
        "elapsed_s": round(stats.elapsed(), 3),
        "setup_s": round(outcome.setup_s, 3),
        "writes": stats.writes,
        "applied": stats.applied,
        "throughput_per_s": round(stats.throughput(), 1),
        "offered_per_s": round(stats.writes / stats.elapsed(), 1) if stats.writes else 0.0,
        "latency_ms": summary_ms(stats.latencies),
        "latency_source": LATENCY_SOURCE[outcome.mode],
        "latency_ms_by_kind": {
            str(kind): summary_ms(samples) for kind, samples in sorted(stats.by_kind.items())
        },
        "outcomes": {str(status): count for status, count in stats.outcomes.items()},
        "reasons": dict(sorted(stats.reasons.items())),
        "revisions_checked": check.revisions_checked,
        "corrupt_count": len(check.corrupt),
        "corrupt_packages": [item.as_dict() for item in check.corrupt],
        "lost_count": len(check.lost) if is_pipeline else None,
        "lost_intents": [str(intent) for intent in check.lost],
        "applied_twice": check.applied_twice,
        "mismatched_outcomes": check.mismatched,
        "batch_sizes": batch_summary(check.batch_sizes) if is_pipeline else None,
        "pacing": {
            "rate": outcome.config.rate,
            "late_starts": stats.late_starts,
            "max_lag_ms": round(stats.max_lag_s * 1000, 3),
            "dropped_slots": outcome.dropped_slots,
        },
        "writer_problems": outcome.writer_problems,
        "notes": check.notes,
        "ok": outcome.ok,
    }


def _latency_line(latency: dict[str, float]) -> str:
    return (
        f"p50 {latency['p50']:.1f}  p95 {latency['p95']:.1f}  p99 {latency['p99']:.1f}  "
        f"max {latency['max']:.1f} ms"
    )


def _batches_line(batches: dict[str, Any] | None) -> str | None:
    if batches is None:
        return None
    if not batches["available"]:
        return f"not measured: {batches['note']}"
    histogram = "  ".join(f"{label}:{count}" for label, count in batches["histogram"].items())
    return (
        f"{batches['transactions']} transactions, mean {batches['mean']} intents, "
        f"p50 {batches['p50']}, p95 {batches['p95']}, max {batches['max']}  [{histogram}]"
    )


def _pacing_line(report: dict[str, Any]) -> str | None:
    pacing = report["pacing"]
    if pacing["rate"] is None:
        return None
    line = (
        f"offered {pacing['rate']:.0f}/s, started {report['offered_per_s']:.1f}/s; "
        f"{pacing['late_starts']} writes started late (max {pacing['max_lag_ms']:.1f} ms)"
    )
    if pacing["dropped_slots"]:
        line += f"; {pacing['dropped_slots']} slots dropped: the system could not keep up"
    return line


def render_table(report: dict[str, Any]) -> str:
    work, outcomes = report["workload"], report["outcomes"]
    lines = [
        f"porch-loadtest  mode {report['mode']}  namespace {report['namespace']}  "
        f"seed {work['seed']}",
        "",
        f"  workload    {work['packages']} packages x {work['resources']} resources "
        f"(~{work['value_bytes']} B), {work['server_actors']} server + "
        f"{work['render_actors']} render actors, {work['hot_packages']} hot packages, "
        f"rate {work['rate'] or 'unlimited'}, {work['partitions']} partitions"
        + (f", {work['writers']} writer(s)" if work["writers"] else ""),
        f"  run         {report['elapsed_s']:.1f} s (setup {report['setup_s']:.1f} s)",
        f"  writes      {report['writes']} done, {report['applied']} applied  ->  "
        f"{report['throughput_per_s']:.1f} applied/s",
        f"  latency     {_latency_line(report['latency_ms'])}  ({report['latency_source']})",
    ]
    for kind, latency in report["latency_ms_by_kind"].items():
        lines.append(f"    {kind:<10}{_latency_line(latency)}")
    lines.append(
        "  outcomes    " + "  ".join(f"{name} {count}" for name, count in outcomes.items())
    )
    if report["reasons"]:
        lines.append("  reasons     " + "  ".join(f"{k} {v}" for k, v in report["reasons"].items()))
    pacing = _pacing_line(report)
    if pacing:
        lines.append(f"  pacing      {pacing}")
    batches = _batches_line(report["batch_sizes"])
    if batches:
        lines.append(f"  batches     {batches}")
    lines += _verification_lines(report)
    lines.append("")
    lines.append("  RESULT      " + ("OK" if report["ok"] else "FAILED"))
    return "\n".join(lines)


def _verification_lines(report: dict[str, Any]) -> list[str]:
    lost = "n/a (no intents)" if report["lost_count"] is None else str(report["lost_count"])
    lines = [
        f"  verified    {report['revisions_checked']} package revisions: "
        f"{report['corrupt_count']} corrupt, lost intents {lost}, "
        f"applied twice {len(report['applied_twice'])}, "
        f"outcomes differing from the log {len(report['mismatched_outcomes'])}"
    ]
    for item in report["corrupt_packages"][:MAX_LISTED]:
        lines.append(f"    CORRUPT {item['revision']}: " + "; ".join(item["problems"]))
    if report["corrupt_count"] > MAX_LISTED:
        lines.append(f"    ... and {report['corrupt_count'] - MAX_LISTED} more")
    for intent in report["lost_intents"][:MAX_LISTED]:
        lines.append(f"    LOST intent {intent}")
    for problem in report["applied_twice"][:MAX_LISTED]:
        lines.append(f"    APPLIED TWICE {problem}")
    for problem in report["mismatched_outcomes"][:MAX_LISTED]:
        lines.append(f"    MISMATCH {problem}")
    for problem in report["writer_problems"]:
        lines.append(f"    WRITER {problem}")
    for note in report["notes"]:
        lines.append(f"  note        {note}")
    return lines


Pick = Callable[[dict[str, Any]], Any]

_COMPARED: tuple[tuple[str, Pick, bool], ...] = (
    ("throughput (applied/s)", lambda r: r["throughput_per_s"], True),
    ("writes done", lambda r: r["writes"], False),
    ("latency p50 (ms)", lambda r: r["latency_ms"]["p50"], True),
    ("latency p95 (ms)", lambda r: r["latency_ms"]["p95"], True),
    ("latency p99 (ms)", lambda r: r["latency_ms"]["p99"], True),
    ("latency max (ms)", lambda r: r["latency_ms"]["max"], True),
    ("applied", lambda r: r["outcomes"]["applied"], False),
    ("stale", lambda r: r["outcomes"]["stale"], False),
    ("conflict", lambda r: r["outcomes"]["conflict"], False),
    ("rejected", lambda r: r["outcomes"]["rejected"], False),
    ("duplicate", lambda r: r["outcomes"]["duplicate"], False),
    ("error", lambda r: r["outcomes"]["error"], False),
    ("corrupt packages", lambda r: r["corrupt_count"], False),
    ("lost intents", lambda r: "n/a" if r["lost_count"] is None else r["lost_count"], False),
)


def _cell(value: Any, locked: Any, ratio: bool) -> str:
    text = f"{value:.1f}" if isinstance(value, float) else str(value)
    if ratio and isinstance(value, int | float) and isinstance(locked, int | float) and locked:
        text += f" ({value / locked:.2f}x)"
    return text


def render_compare(reports: Sequence[dict[str, Any]]) -> str:
    """The modes side by side; ratios are to the locked mode."""
    locked = next((report for report in reports if report["mode"] == Mode.LOCKED), None)
    width = 24
    header = f"{'':<26}" + "".join(f"{report['mode']:>{width}}" for report in reports)
    lines = ["porch-loadtest --compare (ratios to locked)", "", header]
    for label, pick, ratio in _COMPARED:
        row = f"{label:<26}"
        for report in reports:
            base = pick(locked) if locked is not None else None
            row += f"{_cell(pick(report), base, ratio):>{width}}"
        lines.append(row)
    lines.append(
        f"{'result':<26}"
        + "".join(f"{'OK' if report['ok'] else 'CORRUPT/LOST':>{width}}" for report in reports)
    )
    return "\n".join(lines)


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def compare_document(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    locked = next((report for report in reports if report["mode"] == Mode.LOCKED), None)
    ratios = {}
    if locked is not None and locked["throughput_per_s"]:
        ratios = {
            report["mode"]: {
                "throughput": round(report["throughput_per_s"] / locked["throughput_per_s"], 3),
                "p99": round(report["latency_ms"]["p99"] / locked["latency_ms"]["p99"], 3)
                if locked["latency_ms"]["p99"]
                else None,
            }
            for report in reports
        }
    return {"compare": list(reports), "ratios_to_locked": ratios}
