"""``python -m llm_mia.cli``: the same as the ``llm-mia`` command."""

import sys

from .app import main

sys.exit(main())
