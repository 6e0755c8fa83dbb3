"""theanolite.tools: command-line tools (precompilation, benchmarks) shipped with theanolite."""
