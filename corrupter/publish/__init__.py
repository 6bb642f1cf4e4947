"""Publishing finished releases: copying one to object storage (copy.py, `corrupter publish`)."""
