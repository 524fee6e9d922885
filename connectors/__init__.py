"""What talks to the outside world: the reference producer client for upstream systems."""
