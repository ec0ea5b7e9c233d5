"""Domain tests: the services on in-memory fakes and a fixed clock (tests/support)."""
