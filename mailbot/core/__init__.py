"""The pure core: dataclasses in, dataclasses out, time passed in; no I/O."""
