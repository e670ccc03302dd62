"""Signing: types and root fields (Query, Mutation, Subscription) contributed to the schema."""

from __future__ import annotations
