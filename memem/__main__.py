"""`python -m memem ...` runs the CLI."""

from memem.cli import main

raise SystemExit(main())
