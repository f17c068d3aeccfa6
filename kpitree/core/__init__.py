"""The model: nodes, formulas, horizons, norms, units and the Tree."""
