"""The agents' conversation memory: the store protocol and one module per backend."""
