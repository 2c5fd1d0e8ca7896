"""`python -m saltjet` runs the `saltjet` command."""

import sys

from saltjet.cli import main

sys.exit(main())
