"""Tables of signatures of served documents and their delivery state (models; see migration 0003)."""

from __future__ import annotations
