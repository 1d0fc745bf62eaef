"""The command line: ``python -m transformer_lib.pretrain [--config FILE] [options]``."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence

import torch

from .config import DEFAULTS, load_config
from .runner import run

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m transformer_lib.pretrain --config CONFIG.json``."""
    parser = argparse.ArgumentParser(
        prog="python -m transformer_lib.pretrain",
        description="Train a GPT on Shakespeare or on your own text; under torchrun, on N "
        "processes with DistributedDataParallel. The options below override the config file.",
    )
    parser.add_argument("--config", help="a JSON file of settings (defaults for the rest)")
    parser.add_argument("--text-file", metavar="PATH", help="train on this UTF-8 text file")
    parser.add_argument(
        "--tokenizer", choices=["char", "bpe"], help="characters, or a BPE trained on the text"
    )
    parser.add_argument("--steps", type=int, metavar="N", help="optimisation steps")
    parser.add_argument("--out-dir", metavar="DIR", help="where checkpoints and the model go")
    parser.add_argument(
        "--stop-after",
        type=int,
        metavar="STEPS",
        help="stop (with a checkpoint) once this many steps are done; run again to go on",
    )
    parser.add_argument(
        "--write-param-digest",
        action="store_true",
        help="every rank writes a hash of its final weights to out_dir (for tests)",
    )
    parser.add_argument(
        "--print-defaults", action="store_true", help="print the default config and exit"
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for PyTorch (default: PyTorch's, one per core); with other "
        "PyTorch processes on the same cores, give each a share of them",
    )
    args = parser.parse_args(argv)
    if args.print_defaults:
        print(json.dumps(DEFAULTS, indent=2))
        return 0
    try:
        config = load_config(args.config)
        flags = {"text_file": args.text_file, "tokenizer": args.tokenizer,
                 "steps": args.steps, "out_dir": args.out_dir}  # fmt: skip
        overrides = {key: value for key, value in flags.items() if value is not None}
        if overrides.get("text_file") is not None:
            config["plays"] = None  # a text file replaces the plays
        if overrides.get("steps", math.inf) < config["warmup_steps"]:
            config["warmup_steps"] = overrides["steps"] // 10  # a warm-up within the run
        config = load_config({**config, **overrides})
        if args.stop_after is not None and args.stop_after < 1:
            raise ValueError(f"--stop-after must be >= 1, but is {args.stop_after}")
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be >= 1, but is {args.threads}")
    except (ValueError, FileNotFoundError) as e:
        parser.exit(2, f"error: {e}\n")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    run(config, stop_after=args.stop_after, write_param_digest=args.write_param_digest)
    return 0
