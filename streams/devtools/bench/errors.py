"""The benchmark's one error type."""


class BenchError(RuntimeError):
    """The benchmark could not run to the end."""
