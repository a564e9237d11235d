"""Documents over a storage backend: the store rooms call, group commit."""
