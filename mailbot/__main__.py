"""`python -m mailbot`: the same as the `mailbot` command."""

import sys

from mailbot.cli.main import main

sys.exit(main())
