"""``python -m cnncourse`` is the instructor command."""

from cnncourse.cli import main

raise SystemExit(main())
