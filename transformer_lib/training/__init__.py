"""Training: the loop (``train``), optimizers, learning-rate schedules and multi-GPU helpers.

Layer 4: imports everything below it.
"""

# ``transformer_lib.training`` was the module holding the loop; keep that import path working.
from .loop import History, train

__all__ = ["History", "train"]
