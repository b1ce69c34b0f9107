"""`python -m autobook` is the `autobook` command."""

import sys

from autobook.cli import main

sys.exit(main())
