"""Results, reports and plots: the typed run result, terminal tables, kernel-format views."""
