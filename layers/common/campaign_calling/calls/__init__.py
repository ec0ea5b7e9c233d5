"""Placing one call: the provider client, the placing logic, make-call and the call logs."""
