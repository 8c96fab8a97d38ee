"""textpipe: a text-classification dataset from download to a trained, evaluated model, one cached stage at a time."""

__version__ = "0.1.0"
