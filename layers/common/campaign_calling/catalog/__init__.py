"""Agents, campaigns and their contacts: what a client sets up before calling."""
