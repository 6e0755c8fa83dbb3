"""Graph rewrites: the registry, the driver and the pipeline ``function`` runs."""
from theanolite.rewriting.db import register, rewrite_db  # noqa: F401
from theanolite.rewriting.pipeline import run_pipeline  # noqa: F401
