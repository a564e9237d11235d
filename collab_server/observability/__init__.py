"""What operators see of a running Orpheus beyond /metrics and the logs: error reports."""
