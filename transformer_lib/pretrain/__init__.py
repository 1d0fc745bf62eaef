"""Train a GPT on the bundled Shakespeare or on your own text, on one device or many (ch. 7).

One process::

    python -m transformer_lib.pretrain --config run.json
    python -m transformer_lib.pretrain --text-file my_text.txt --steps 500

The text is tokenized by characters (``"tokenizer": "char"``, the default) or by a byte-level
BPE trained on it (``"bpe"``, with ``"vocab_size"`` ids).

``N`` processes on this machine (``N`` GPUs, or ``N`` CPU processes), data-parallel::

    torchrun --standalone --nproc_per_node=N -m transformer_lib.pretrain --config run.json

The JSON config sets the model (the fields of :class:`~transformer_lib.GPTConfig` under
``"model"``, without ``vocab_size``, which the tokenizer fixes) and the run; every key is
optional, see :data:`DEFAULTS`. With several processes each one holds a full copy of the
model wrapped in ``DistributedDataParallel``, draws its own random batches (a generator
seeded from the seed, its rank and the step), and the gradients are averaged over all of
them before every step, so all copies stay identical. ``batch_size`` is per process: a step
sees ``batch_size * accumulation_steps * N`` sequences.

Rank 0 alone prints and writes to ``out_dir``:

- ``checkpoint/`` the latest checkpoint (written atomically, see ``save_checkpoint``); a
  run started again with the same ``out_dir`` resumes from it, on every rank;
- ``run_config.json`` the full config of the run, ``tokenizer.json`` the vocabulary;
- ``model/`` the final weights and the tokenizer, for
  ``GPT.from_pretrained(out_dir / "model", with_tokenizer=True)``;
- ``metrics.json`` the training losses (the mean over the ranks), the validation losses.

(The package is not called ``train``: importing a subpackage ``transformer_lib.train`` would
replace the function ``tl.train`` on the package with the module.)
"""

from .cli import main
from .config import DEFAULTS, load_config
from .runner import run

__all__ = ["DEFAULTS", "load_config", "run", "main"]
