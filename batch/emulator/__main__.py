"""`python -m batch.emulator`: run the emulator standalone and print its base URL when ready."""

from __future__ import annotations

import sys

from batch.emulator.cli import main

sys.exit(main())
