"""Campaign calling: models, domain logic, data access and the dialer client.

Nothing in this package knows about API Gateway or Step Functions events; handlers in
``functions/`` translate those into calls on :mod:`campaign_calling.logic`.
"""
