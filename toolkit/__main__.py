"""``python -m toolkit ...``: the ``ptm`` command, for when the console script is not on PATH."""

from toolkit.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
