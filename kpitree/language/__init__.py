"""The formula language: expression nodes, the parser, the function table, limits."""
