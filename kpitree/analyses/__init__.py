"""Analyses of a tree: evaluation, calculus, status; each a module of functions."""
