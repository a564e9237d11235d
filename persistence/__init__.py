"""Storage for scores. Open a backend with :func:`persistence.backend.open_backend`
(the one place that picks implementations); protocols live in :mod:`persistence.base`
and in each store package's ``base.py`` (``accounts``, ``results``, ``conversations``),
with one module per backend; :mod:`persistence.drivers` holds the connections and the
document tables."""
