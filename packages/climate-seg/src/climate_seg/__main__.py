"""``python -m climate_seg`` (also ``torchrun ... -m climate_seg train ...``)."""

from .cli import app

if __name__ == "__main__":  # not when a spawned worker re-imports the main module
    app(prog_name="climate-seg")
