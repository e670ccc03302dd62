"""Demand control: what one request may ask of the courts and of the gateway.

``cost``: the static cost of an operation, read from its document before anything runs. ``budget``: the
Strawberry extension that refuses an operation over the configured budget (COST_LIMIT_EXCEEDED) and
reports the cost when asked. ``ratelimit``: token buckets per principal (in memory, or shared through
Redis), answered with HTTP 429 and the ``RateLimit-*`` header fields.
"""
