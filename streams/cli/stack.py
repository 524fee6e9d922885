"""`consentgate stack up | down | status | env`: the local stack from a shell.

Progress goes to stderr and results to stdout, so `eval "$(consentgate stack env)"` and scripts
reading `status` see only what they asked for. Every failure is one `consentgate: ...` line (a
process that died adds the tail of its log) and exit code 1; `status` exits 3 when not all up.

`up --secure` starts a secured stack (TLS, SASL/SCRAM-SHA-512, ACLs; see
`streams/devtools/localstack/security.py`). No command prints a password except `env`, whose
output is meant for `eval` and carries the chosen principal's credentials.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from typing import Any

from streams.devtools.localstack.errors import StackError
from streams.devtools.localstack.security import MECHANISM as SECURE_MECHANISM
from streams.devtools.localstack.security import PRINCIPALS, WORKER
from streams.devtools.localstack.stack import LocalStack, StackStatus
from streams.settings import Settings, SettingsError

NOT_RUNNING = 3


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stack", help="the embedded local Kafka broker and schema registry (no Docker needed)"
    )
    actions = parser.add_subparsers(dest="stack_command", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start Kafka and the registry, wait until both answer")
    up.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for each (default 120)"
    )
    up.add_argument(
        "--secure",
        action="store_true",
        help="TLS, SASL/SCRAM-SHA-512 and ACLs (a state dir started so stays so)",
    )
    up.set_defaults(func=run_up)
    down = actions.add_parser("down", help="stop the processes `up` started")
    down.set_defaults(func=run_down)
    status = actions.add_parser("status", help="what runs where; exit 0 if all up, 3 if not")
    status.set_defaults(func=run_status)
    env = actions.add_parser("env", help='print exports for: eval "$(consentgate stack env)"')
    env.add_argument(
        "--secure",
        action="store_true",
        help="require a secured stack and print its client security settings (with a password)",
    )
    env.add_argument(
        "--as",
        dest="principal",
        choices=PRINCIPALS,
        default=WORKER,
        help="secured stack: whose credentials to print (default worker)",
    )
    env.set_defaults(func=run_env)


def _progress(message: str) -> None:
    print(f"consentgate: {message}", file=sys.stderr, flush=True)


def _stack(secure: bool = False) -> LocalStack:
    return LocalStack(Settings.from_env(), log=_progress, secure=secure)


def _guarded(action: Any) -> int:
    try:
        result: int = action()
        return result
    except (StackError, SettingsError) as exc:
        print(f"consentgate: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # `up` has already stopped what it had started
        print("consentgate: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `consentgate stack status | head -1`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def render_status(status: StackStatus) -> str:
    lines = []
    for c in status.components:
        pid = f"pid {c.pid}" if c.pid else "-"
        product = f"{c.product} {c.version}"
        lines.append(f"{c.name:<9} {c.state:<8} {c.address:<40} {product:<32} {pid}")
    lines.append(f"state dir: {status.state_dir}  logs: {status.state_dir / 'logs'}")
    return "\n".join(lines)


def render_env(variables: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())


def run_up(args: argparse.Namespace) -> int:
    def action() -> int:
        stack = _stack(secure=args.secure)
        start = time.monotonic()
        endpoints = stack.up(timeout=args.timeout)
        elapsed = time.monotonic() - start
        print(render_status(stack.status()))
        verb = "started " + " and ".join(endpoints.started) if endpoints.started else "already up"
        if stack.secure:
            # Where the secrets are, never the secrets themselves.
            print(
                f"secured: SASL_SSL/{SECURE_MECHANISM}, CA {stack.security_layout.ca_file}, "
                f"passwords in {stack.security_layout.credentials_file} (0600)"
            )
            hint = 'eval "$(consentgate stack env --secure --as worker)"'
        else:
            hint = 'eval "$(consentgate stack env)"'
        print(f"{verb} in {elapsed:.1f} s; for your shell: {hint}")
        return 0

    return _guarded(action)


def run_down(args: argparse.Namespace) -> int:
    def action() -> int:
        stopped = _stack().down()
        print("stopped " + ", ".join(stopped) if stopped else "nothing was running")
        return 0

    return _guarded(action)


def run_status(args: argparse.Namespace) -> int:
    def action() -> int:
        status = _stack().status()
        print(render_status(status))
        return 0 if status.all_up else NOT_RUNNING

    return _guarded(action)


def run_env(args: argparse.Namespace) -> int:
    def action() -> int:
        stack = _stack()
        if args.secure and not stack.secure:
            raise StackError(
                f"the stack in {stack.state_dir} is not secured: start it with `stack up --secure`"
            )
        print(render_env(stack.client_env(args.principal)), end="")
        return 0

    return _guarded(action)
