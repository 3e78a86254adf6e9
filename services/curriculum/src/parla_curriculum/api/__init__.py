"""HTTP controllers of the curriculum service."""
