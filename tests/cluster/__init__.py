"""The multi-replica test: gateway replicas behind HAProxy on PostgreSQL and Redis (``make cluster-test``)."""
