"""`porch-loadtest`: concurrent pushes and renders against a write path, verified and reported.

    porch-loadtest --duration 20                  # the pipeline, with one writer started for it
    porch-loadtest --mode legacy --intents 5000   # porch's write path today
    porch-loadtest --compare --json out.json      # all four modes on the same workload

Reads the same PORCH_* settings as the writer. Exit status 1 when a package is corrupt or an
intent lost (with --compare: in the pipeline or locked mode), 2 on a usage or setup error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadtest.content import Shape
from loadtest.errors import LoadTestError
from loadtest.modes import COMPARE_ORDER, Mode
from loadtest.report import as_dict, compare_document, render_compare, render_table, write_json
from loadtest.runner import RunConfig, RunOutcome, run_mode
from loadtest.workload import WorkloadSpec
from loadtest.writers_process import WriterFleet, migrate, wait_for_consumers
from messages.logs import configure_logging
from messages.settings import ConfigError, Settings, load_settings
from producers.errors import ProducerError

DEFAULT_DURATION_S = 20.0
MUST_BE_CLEAN = (Mode.PIPELINE, Mode.LOCKED)
EXTERNAL_WRITER_WAIT_S = 10.0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="porch-loadtest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    work = parser.add_argument_group("workload")
    work.add_argument(
        "--packages", type=_positive_int, default=200, help="packages created (%(default)s)"
    )
    work.add_argument(
        "--resources", type=_positive_int, default=20, help="per package, >= 2 (%(default)s)"
    )
    work.add_argument(
        "--value-bytes", type=_positive_int, default=200, help="bytes per resource (%(default)s)"
    )
    work.add_argument("--actors", type=int, default=8, help="actors of each kind (%(default)s)")
    work.add_argument(
        "--hot", type=_positive_int, default=8, help="packages most writes hit (%(default)s)"
    )
    work.add_argument(
        "--hot-share", type=_share, default=0.75, help="share of writes to them (%(default)s)"
    )
    work.add_argument(
        "--seed", type=int, default=1, help="same seed, same planned workload (%(default)s)"
    )
    length = parser.add_argument_group("length and pace")
    length.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help="how long to load (20 unless --intents is given)",
    )
    length.add_argument("--intents", type=_positive_int, metavar="N", help="stop after N writes")
    length.add_argument(
        "--rate",
        type=_positive_float,
        help="writes offered per second, open loop (default: as fast as the actors go)",
    )
    modes = parser.add_argument_group("write path")
    modes.add_argument(
        "--mode",
        choices=[str(mode) for mode in Mode],
        default="pipeline",
        help="write path (%(default)s)",
    )
    modes.add_argument("--compare", action="store_true", help="run all four modes in turn")
    modes.add_argument(
        "--writers",
        type=_positive_int,
        default=1,
        help="writers to start, sharing the partitions (%(default)s)",
    )
    modes.add_argument(
        "--external-writer", action="store_true", help="a writer already runs: start none"
    )
    modes.add_argument(
        "--partitions", type=_positive_int, help="PORCH_PARTITIONS for the run and its writers"
    )
    modes.add_argument(
        "--writer-log", type=Path, help="where the started writers log (a temporary file)"
    )
    out = parser.add_argument_group("output")
    out.add_argument("--json", type=Path, metavar="PATH", help="write the report as JSON")
    out.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    return parser


def config_from(args: argparse.Namespace) -> RunConfig:
    if args.actors < 1:
        raise ValueError("--actors must be at least 1")
    spec = WorkloadSpec(
        shape=Shape(args.packages, args.resources, args.value_bytes),
        server_actors=args.actors,
        render_actors=args.actors,
        hot=args.hot,
        hot_share=args.hot_share,
        seed=args.seed,
    )
    duration = args.duration
    if duration is None and args.intents is None:
        duration = DEFAULT_DURATION_S
    return RunConfig(
        spec=spec,
        duration=duration,
        intents=args.intents,
        rate=args.rate,
        writers=args.writers,
        external_writer=args.external_writer,
        progress=sys.stderr.isatty() and not args.no_progress,
        writer_log=args.writer_log,
    )


async def run_one(mode: Mode, settings: Settings, config: RunConfig) -> dict[str, Any]:
    """One mode's run; in the pipeline mode with its writers started and stopped around it."""
    fleet = None
    if mode is Mode.PIPELINE and config.external_writer:
        await wait_for_consumers(settings, EXTERNAL_WRITER_WAIT_S)
    elif mode is Mode.PIPELINE:
        log_path = config.writer_log or Path(
            tempfile.gettempdir(), f"porch-loadtest-writers-{os.getpid()}.log"
        )
        fleet = WriterFleet(settings, config.writers, log_path)
        await fleet.start()
    problems: list[str] = []
    outcome: RunOutcome | None = None
    try:
        outcome = await run_mode(mode, settings, config)
    finally:
        if fleet is not None:
            problems = await fleet.stop(timeout=settings.shutdown_grace_s + 10)
            if problems or outcome is None:
                problems.append(f"writer log: {fleet.log_path}")
            elif config.writer_log is None:
                fleet.log_path.unlink(missing_ok=True)  # a temporary file with nothing to show
    assert outcome is not None  # run_mode returned (or its exception went on)
    outcome.writer_problems = problems
    return as_dict(outcome)


async def run_all(modes: Sequence[Mode], settings: Settings, config: RunConfig) -> list[Any]:
    if not config.external_writer:
        await migrate(settings)
    reports = []
    for mode in modes:
        report = await run_one(mode, settings, config)
        print(render_table(report), flush=True)
        print(flush=True)
        reports.append(report)
    return reports


def exit_status(reports: Sequence[dict[str, Any]], *, compare: bool) -> int:
    judged = [r for r in reports if not compare or Mode(r["mode"]) in MUST_BE_CLEAN]
    return 0 if all(report["ok"] for report in judged) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        overrides = {} if args.partitions is None else {"partitions": args.partitions}
        settings = load_settings(**overrides)
        config = config_from(args)
    except (ConfigError, ValueError) as error:
        print(f"porch-loadtest: {error}", file=sys.stderr)
        return 2
    configure_logging("warning", settings.log_format, stream=sys.stderr)
    modes = COMPARE_ORDER if args.compare else (Mode(args.mode),)
    try:
        reports = asyncio.run(run_all(modes, settings, config))
    except (LoadTestError, ProducerError, OSError) as error:
        print(f"porch-loadtest: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.compare:
        print(render_compare(reports))
    if args.json is not None:
        write_json(args.json, compare_document(reports) if args.compare else reports[0])
    return exit_status(reports, compare=args.compare)
