"""AI collaborators that join a live score: personas, tasks, brains, and the offline music
brain (:mod:`agents.music`)."""
