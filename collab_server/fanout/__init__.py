"""Cross-instance fan-out: how server instances share document updates and presence."""

from collab_server.fanout.base import RESYNC, FanOut, Message, Subscription

__all__ = ["RESYNC", "FanOut", "Message", "Subscription"]
