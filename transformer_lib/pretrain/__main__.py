"""``python -m transformer_lib.pretrain``: see :func:`transformer_lib.pretrain.main`."""

import sys

from .cli import main

sys.exit(main())
