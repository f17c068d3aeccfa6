"""Model files and values files: strict readers and writers."""
