"""Storage for scores: protocols in :mod:`persistence.base`, one module per backend."""
