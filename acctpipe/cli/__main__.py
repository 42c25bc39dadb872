"""``python -m acctpipe.cli``: the command line, for tests and hosts without the script."""

import sys

from acctpipe.cli.app import main

sys.exit(main())
