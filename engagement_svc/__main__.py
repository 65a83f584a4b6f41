from engagement_svc.cli import main

raise SystemExit(main())
