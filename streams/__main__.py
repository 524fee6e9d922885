"""`python -m streams`: the `consentgate` command."""

import sys

from streams.cli import main

sys.exit(main())
