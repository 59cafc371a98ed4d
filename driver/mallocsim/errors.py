"""The errors the tool reports as one line and exit status 2.

Every expected failure of input (a malformed trace, a missing file, an
allocator that cannot be built or loaded, a bad option) is a UsageError
subclass: the CLI prints its message alone, never a traceback.
"""


class UsageError(Exception):
    """Bad usage or bad input: the message is one line, ready for the user."""


class GraderFault(UsageError):
    """The grader itself could not do its work (its installation, the machine), whatever the
    allocator: no grade may be given, and none is kept. Reported as any UsageError is."""
