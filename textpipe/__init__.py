"""textpipe: text classification from download to an evaluated model, one cached stage at a time."""

__version__ = "0.1.0"
