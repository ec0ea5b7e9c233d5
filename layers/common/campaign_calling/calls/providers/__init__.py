"""Provider dialects: what each telephony provider is asked to place a call, how its answer
reads, how its status webhooks are signed and what they mean for a call's lifecycle.

Pure code (no HTTP, no AWS): one module per dialect (generic, twilio, vapi, retell), the
shared vocabulary in dialect.py and lifecycle.py, the signature checks in signatures.py.
Nothing is imported here, so a function pays only for the dialect it uses.
"""
