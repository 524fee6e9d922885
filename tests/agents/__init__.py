"""agents tests."""
