"""consentgate's tests. `ROOT` is the repository root, for the files the tests read."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
