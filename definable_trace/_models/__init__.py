"""Model implementations behind `definable_trace.model`."""
