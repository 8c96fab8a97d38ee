"""One module per stage: plain library code, no click, no printing."""
