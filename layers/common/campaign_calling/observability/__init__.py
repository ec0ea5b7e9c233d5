"""Keeping personal data out of logs and execution histories."""
