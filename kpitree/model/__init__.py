"""What a tree is made of: nodes, horizons, norms, units, numbers, the validated graph."""
