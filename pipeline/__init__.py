"""The README main job, above every other package: `python -m pipeline.main`."""
