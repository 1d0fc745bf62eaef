"""Utilities under everything else: devices, seeding, checkpoints on disk, measuring, plots.

Layer 0: imports nothing from the rest of the library.
"""
