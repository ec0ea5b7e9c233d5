"""Helpers for the tests: in-memory fakes of what the services depend on, builders of
domain objects and of the real stores. Not test modules: nothing here is collected."""
