"""``python -m benchmarks [NAME ...] [--quick] [--device DEVICE] [--out DIR]``.

Without names it runs every benchmark except ``notebooks`` (20 to 40 minutes on a 2-core CPU,
depending on the machine), which runs only when named: ``python -m benchmarks notebooks``. Each
result is printed as a table and written as JSON to ``DIR/NAME-DEVICE.json`` (``-quick`` added
with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import attention, generation, gpt_train, kv_cache, mha, notebooks, threads

BENCHMARKS = {
    m.NAME: m for m in (attention, mha, gpt_train, generation, kv_cache, threads, notebooks)
}
DEFAULT = [name for name, m in BENCHMARKS.items() if getattr(m, "DEFAULT", True)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "names",
        nargs="*",
        help=f"which to run, of {list(BENCHMARKS)} (default: {DEFAULT})",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check they run")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best)")
    parser.add_argument("--out", default=Path(__file__).parent / "results", type=Path)
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names or DEFAULT:
        module = BENCHMARKS[name]
        result = module.run(quick=args.quick, device=args.device)
        print(module.table(result))
        suffix = "-quick" if args.quick else ""
        path = args.out / f"{name}-{result['device']}{suffix}.json"
        path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"-> {path}\n")


if __name__ == "__main__":
    main()
