"""Turning a graph into fast code: code generation, evaluation, derivatives."""
