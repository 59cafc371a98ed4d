"""`python -m mallocsim` is the `mallocsim` command."""

import sys

from mallocsim.cli import main

sys.exit(main())
