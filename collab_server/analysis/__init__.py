"""Live analysis in the server: debounced jobs on edit, result events."""
