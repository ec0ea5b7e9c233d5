"""Thin wrappers over the AWS services we use, one module per service."""
