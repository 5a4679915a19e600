import sys


def main() -> int:
    print("porch-writer: not yet", file=sys.stderr)
    return 2
