"""Deploying what the SAM stack does not build itself: the web console's files."""
