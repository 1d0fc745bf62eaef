"""Text corpora shipped inside the package, read with ``importlib.resources``.

``shakespeare/``: twelve public-domain plays with First Folio genres; see its README.md and
``transformer_lib.datasets.shakespeare``.
"""
