"""One exception type for user-facing failures: stages print its message as one line and exit 1."""


class EcgwmError(Exception):
    """A clear, user-facing error that names the offending file, key or row."""
