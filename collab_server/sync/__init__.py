"""The sync engine: rooms, connections, the y-websocket protocol and presence."""
