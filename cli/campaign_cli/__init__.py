"""`campaign-calls` and the one HTTP client of the campaign calling API. A client of any
deployment (base URL + bearer token): the CLI, the local engine's demo seeding, the
benchmarks and the end-to-end tests all speak to the API through ``CampaignApi``."""
