"""HTTP glue shared by the API functions: the resolver, error mapping, tenant, envelopes."""
