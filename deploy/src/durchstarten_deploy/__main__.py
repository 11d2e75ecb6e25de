"""`python -m durchstarten_deploy`: the local stack's command line."""

import sys

from durchstarten_deploy.cli import main

sys.exit(main())
