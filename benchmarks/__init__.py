"""Speed measurements of `transformer_lib` against references, run in the same process.

Run them with ``python -m benchmarks`` (or some: ``python -m benchmarks attention mha``); each
prints a table and writes its results as JSON to ``benchmarks/results/``, which the book's
Benchmarks appendix shows. The benchmarks:

* ``attention``: the library's fused and explicit attention against PyTorch's, time and memory;
* ``mha``: ``MultiHeadAttention`` against ``torch.nn.MultiheadAttention``, forward + backward;
* ``gpt_train``: a ``GPT`` training step against Hugging Face's GPT-2, with MFU;
* ``generation``: ``GPT.generate`` against Hugging Face's ``generate``, batch 1;
* ``kv_cache``: generation with the key/value cache against recomputation;
* ``notebooks``: execution time of each chapter notebook, only when named (20 to 40 minutes
  on two cores, depending on the machine).

Results are ratios measured in one run on one machine, never assertions: the tests only check
that each benchmark runs and reports what it should (``--quick`` mode).
"""
