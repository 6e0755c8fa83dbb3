"""(being written) scan."""
