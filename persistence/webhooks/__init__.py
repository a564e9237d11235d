"""Webhook subscriptions, the delivery outbox and per-user notifications (issue 17)."""
