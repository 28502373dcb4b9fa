from __future__ import annotations

import sys

from harc.cli import main

sys.exit(main())
