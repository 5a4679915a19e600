"""`porch-writer`: migrate the database, run the daemon, inspect and replay dead letters."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import structlog

from messages.logs import configure_logging
from messages.settings import ConfigError, Settings, load_settings
from producers.errors import ProducerError
from writer import dlq
from writer.daemon import Writer
from writer.errors import WriterError
from writer.migrations import migrate
from writer.signals import graceful_signals

log = structlog.get_logger(__name__)


def parse_partitions(spec: str, count: int) -> list[int]:
    """`0-7`, `3`, `0-3,8,10-11` -> sorted partition indexes, each within 0..count-1."""
    chosen: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad partition range {part!r} in {spec!r}") from None
        if not 0 <= low <= high < count:
            raise argparse.ArgumentTypeError(
                f"partition range {part!r} is outside 0-{count - 1} (PORCH_PARTITIONS={count})"
            )
        chosen.update(range(low, high + 1))
    return sorted(chosen)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="porch-writer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the database schema (safe to rerun)")
    run = commands.add_parser("run", help="apply intents from the partition queues")
    run.add_argument("--partitions", metavar="SPEC", help="serve only these, e.g. 0-7 or 0,2,4-5")
    run.add_argument("--until-empty", action="store_true", help="return once the queues are empty")
    run.add_argument("--name", default="porch-writer", help="connection name shown by the broker")
    dlq = commands.add_parser("dlq", help="dead-lettered intents").add_subparsers(
        dest="dlq_command", required=True
    )
    listing = dlq.add_parser("list", help="show dead letters with their reasons")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--all", action="store_true", help="include replayed ones")
    replay = dlq.add_parser("replay", help="publish dead letters again, to be applied")
    replay.add_argument("ids", nargs="+", metavar="ID", help="dead-letter id or intent id")
    return parser


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    partitions = parse_partitions(args.partitions, settings.partitions) if args.partitions else None
    writer = Writer(settings, partitions=partitions, until_empty=args.until_empty, name=args.name)
    with graceful_signals(writer.stop, writer.force_stop):
        try:
            await writer.run()
        except asyncio.CancelledError:
            log.warning("writer.stopped_now")
    return 0


async def _command(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "migrate":
        applied = await migrate(settings.database_url)
        print(
            f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else "")
        )
        return 0
    if args.command == "run":
        return await _run(settings, args)
    if args.dlq_command == "list":
        return await dlq.print_list(settings, as_json=args.json, include_replayed=args.all)
    return await dlq.replay(settings, args.ids)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"porch-writer: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        return asyncio.run(_command(settings, args))
    except argparse.ArgumentTypeError as error:
        print(f"porch-writer: {error}", file=sys.stderr)
        return 2
    except (WriterError, ProducerError, ValueError) as error:
        print(f"porch-writer: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
