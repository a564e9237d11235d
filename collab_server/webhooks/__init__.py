"""Webhooks (docs/webhooks.md): events of scores are written to the outbox of
:mod:`persistence.webhooks` and sent, signed, by :class:`~.sender.WebhookSender`."""
