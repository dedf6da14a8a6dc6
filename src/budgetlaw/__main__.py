from budgetlaw.cli import main

raise SystemExit(main())
