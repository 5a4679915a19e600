import sys


def main() -> int:
    print("porch-loadtest: not yet", file=sys.stderr)
    return 2
