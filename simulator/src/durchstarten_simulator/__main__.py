"""`python -m durchstarten_simulator`: see cli.py."""

import sys

from durchstarten_simulator.cli import main

sys.exit(main())
