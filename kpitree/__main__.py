"""`python -m kpitree` runs the command line."""

from kpitree.apps.cli import main

raise SystemExit(main())
