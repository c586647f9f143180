"""`python -m msvae`: the same as the `msvae` command (what `ray job submit` runs)."""

from msvae.cli import main

raise SystemExit(main())
