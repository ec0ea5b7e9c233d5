"""Data access: DynamoDB items behind small repositories that speak in domain models."""
