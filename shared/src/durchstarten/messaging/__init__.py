"""Messaging platform: broker factory, outbox and relay, idempotent consumers, dead letters."""
