from klavi_mock.cli import main

raise SystemExit(main())
