"""Shared helpers for the secure-qmail integration tests (TAP via prove)."""
