"""``python -m collab_server.cli``: the same as the ``orpheus`` command."""

from collab_server.cli.main import main

main()
