"""Rebuild ``data/t5_event_reports/``: the small T5-style model that section 8.4 fine-tunes.

The model is chapter 5's encoder-decoder (:class:`transformer_lib.Transformer`), pre-trained
with T5's span corruption (:func:`transformer_lib.span_corruption`; Raffel et al., 2020) on
6,000 generated news pages, ``tl.event_reports(6000, seed=0)``, each written as its headline,
" . ", then its report. No labels are used: the objective only asks the model to restore
hidden spans of the page. The book never runs this script (3,000 steps take about five
minutes on two CPU cores); its output is committed, so that the notebook can start from it.
It is here so that anyone can check how the weights were made and rebuild them::

    .venv/bin/python scripts/pretrain_t5.py            # writes data/t5_event_reports/

Section 8.4 runs the same recipe for its first ``--check`` steps and compares the losses with
the ones stored here (``extra["losses"]`` of the checkpoint), which checks that the weights
come from this recipe. With ``FULL_SIZE = True`` the notebook runs all of it itself.

Output: a checkpoint directory (see :func:`transformer_lib.save_checkpoint`) with
``model.safetensors``, ``config.json`` (the model's config, the recipe and the loss of every
step) and ``tokenizer.json`` (the :class:`~transformer_lib.WordTokenizer`). The sentinel ids
are the ``NUM_SENTINELS`` ids after the tokenizer's vocabulary.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import transformer_lib as tl
from transformer_lib.models.pretrained import describe

OUT = Path(__file__).resolve().parents[1] / "data" / "t5_event_reports"
NUM_SENTINELS = 10
PREFIXES = ("summarize :", "classify :")
RECIPE = dict(
    pages=6000,
    pages_seed=0,
    steps=3000,
    batch_size=32,
    lr=3e-3,
    warmup=50,
    weight_decay=0.01,
    clip_grad_norm=1.0,
    noise_density=0.15,
    mean_span_length=3.0,
    model_seed=0,
)
MODEL = dict(d_model=64, num_heads=4, num_layers=2, d_ff=128, dropout=0.0, norm_first=True)


def build_tokenizer(reports: list[tl.EventReport]) -> tl.WordTokenizer:
    """Words of the pages, the task prefixes and the kind names (the fine-tuning targets)."""
    texts = [r.report for r in reports] + [r.headline for r in reports]
    return tl.WordTokenizer(texts + list(PREFIXES) + list(tl.EVENT_KINDS))


def page(report: tl.EventReport) -> str:
    return report.headline + " . " + report.report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--steps", type=int, default=RECIPE["steps"])
    args = parser.parse_args()
    r = dict(RECIPE, steps=args.steps)

    reports = tl.event_reports(r["pages"], seed=r["pages_seed"])
    tok = build_tokenizer(reports)
    pages = [tok.encode(page(x)) for x in reports]
    sentinels = list(range(tok.vocab_size, tok.vocab_size + NUM_SENTINELS))
    vocab = tok.vocab_size + NUM_SENTINELS
    max_len = max(len(p) for p in pages) + 8

    tl.set_seed(r["model_seed"])
    model = tl.Transformer(
        vocab, vocab, **MODEL, max_len=max_len, pad_id=tok.pad_id,
        share_embeddings=True, tie_embeddings=True,
    )  # fmt: skip

    def get_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        # One generator per step: the batch of step k is the same however the run is split.
        g = torch.Generator().manual_seed(step)
        src, tgt = [], []
        for i in torch.randint(len(pages), (r["batch_size"],), generator=g).tolist():
            x, y = tl.span_corruption(
                pages[i],
                sentinel_ids=sentinels,
                noise_density=r["noise_density"],
                mean_span_length=r["mean_span_length"],
                generator=g,
            )
            src.append(x.tolist())
            tgt.append([tok.bos_id, *y.tolist(), tok.eos_id])
        return tl.pad_batch(src, tok.pad_id), tl.pad_batch(tgt, tok.pad_id)

    def loss_fn(model: tl.Transformer, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        src, tgt = batch
        logits = model(src, tgt[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten(), ignore_index=tok.pad_id)

    opt = torch.optim.AdamW(
        model.parameters(), lr=r["lr"], betas=(0.9, 0.98), weight_decay=r["weight_decay"]
    )
    start = time.perf_counter()
    history = tl.train(
        model, get_batch, loss_fn, opt, steps=r["steps"],
        scheduler=tl.cosine_schedule(opt, r["warmup"], r["steps"]),
        clip_grad_norm=r["clip_grad_norm"], desc="span corruption",
    )  # fmt: skip
    seconds = time.perf_counter() - start
    losses = [round(float(x), 5) for x in history]
    tl.save_checkpoint(
        args.out,
        model,
        step=r["steps"],
        config=describe(model),
        extra=dict(
            recipe=r, model=MODEL, num_sentinels=NUM_SENTINELS, prefixes=list(PREFIXES),
            losses=losses, seconds=round(seconds, 1), torch=torch.__version__,
        ),
        tokenizer=tok,
    )  # fmt: skip
    print(f"{args.out}: {r['steps']} steps in {seconds:.0f} s, final loss {losses[-1]:.3f}")


if __name__ == "__main__":
    main()
