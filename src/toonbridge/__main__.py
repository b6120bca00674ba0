"""``python -m toonbridge``: the same commands as the ``toonbridge`` script (and an entry torchrun can start)."""

from toonbridge.cli import main

main()
