"""Builders and in-memory fakes for tests."""
