"""Brains: what decides an agent's answer, behind :class:`agents.brains.base.Brain`."""
