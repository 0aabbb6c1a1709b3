"""Span emission and exporter setup behind `definable_trace.configure_tracing`."""
