"""The ``orpheus`` command line (start-up code)."""
