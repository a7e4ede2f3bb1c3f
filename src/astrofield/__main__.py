"""``python -m astrofield``: the ``astrofield`` command (:mod:`astrofield.cli`)."""

from astrofield.cli import main

if __name__ == "__main__":
    main(prog_name="astrofield")
