"""Ways in and out: text rendering, the command line, files, frames and SQL."""
