"""Helpers for the trace-store tests: a Phoenix launcher, an agent run in a clean process, and
local HTTP servers answering Jaeger's and Tempo's documented shapes."""
