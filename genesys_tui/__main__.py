"""`python -m genesys_tui`: the `genesys` command."""

from genesys_tui.cli import main

raise SystemExit(main())
