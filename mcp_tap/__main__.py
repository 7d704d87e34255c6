"""`python -m mcp_tap` is `mcp-tap`."""

import sys

from mcp_tap.cli import main

sys.exit(main())
