"""theanolite.tools.bench: the benchmark suite.

``python -m theanolite.tools.bench`` runs every workload single-threaded and prints one
table of medians and ratios (``--quick``, ``--only NAME``, ``--json out.json``).
``harness`` times and prints, ``workloads`` defines what is measured, ``graphs`` holds the
theanolite graphs (also built by the fresh-process probes in ``fresh``), ``mlp_numpy`` the
hand-written numpy MLP reference, ``competitors`` the optional PyTensor/JAX/torch versions.
``rewrites`` is a separate tool timing the rewrite pipeline.

Kept import-free so fresh-process probes pay nothing for it.
"""
