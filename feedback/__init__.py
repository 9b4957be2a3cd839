"""The ``feedback`` command: runs and operates the pipeline."""
