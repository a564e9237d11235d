"""The Orpheus server: rooms over WebSockets, the REST API and the command line."""

__version__ = "0.1.0"
