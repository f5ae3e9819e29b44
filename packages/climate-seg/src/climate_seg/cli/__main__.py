"""``python -m climate_seg.cli``."""

from . import app

app(prog_name="climate-seg")
