"""Planning (pure), the Ray-agnostic worker, and the Ray driver."""
