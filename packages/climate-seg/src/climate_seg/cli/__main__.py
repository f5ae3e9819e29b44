"""``python -m climate_seg.cli``."""

from . import app

if __name__ == "__main__":  # not when a spawned worker re-imports the main module
    app(prog_name="climate-seg")
