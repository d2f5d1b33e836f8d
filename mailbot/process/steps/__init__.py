"""The steps after filing, one module each; process/pipeline.py lists them in order."""
