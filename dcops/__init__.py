"""dcops core: the `dcops` command, settings and the types every stage shares."""

__version__ = "0.1.0"
