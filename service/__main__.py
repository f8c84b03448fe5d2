"""``python -m service``: the ``jinshan`` command."""

from service.app.cli import main

main()
