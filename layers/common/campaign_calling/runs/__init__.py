"""A run of calls over a campaign's contacts: its lifecycle, pages, dial step, pacing, status and reconciliation."""
