"""`python -m kpitree` runs the command line."""

from kpitree.adapters.cli import main

raise SystemExit(main())
