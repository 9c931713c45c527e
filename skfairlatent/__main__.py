"""``python -m skfairlatent``: the main job (see :mod:`skfairlatent.cli`)."""

import sys

from .cli import main

sys.exit(main())
