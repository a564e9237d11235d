"""Who may do what: accounts and tokens, per-score roles, rate and size limits."""
