"""Settings mypy's Django plugin loads: config.settings on the embedded default.

Type checking needs no environment; an environment that is set (CI's, a developer's) still wins.
"""

import os

os.environ.setdefault("TRAINWATCH_EMBEDDED", "true")

from config.settings import *  # noqa: F403
