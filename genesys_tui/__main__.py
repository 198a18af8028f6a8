from genesys_tui.cli import main

raise SystemExit(main())
