"""`python -m streams.localstack up|down|status|env`: the stack commands without the full CLI."""

from __future__ import annotations

import argparse
import sys

from streams.localstack.command import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.localstack")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["stack", *(sys.argv[1:] if argv is None else argv)])
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
