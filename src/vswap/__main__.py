"""``python -m vswap`` runs the command line."""

from vswap.cli import main

raise SystemExit(main())
