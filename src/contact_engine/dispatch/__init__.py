"""Dispatch: delayed queue (sorted set) -> Redis Stream -> consumer-group workers."""
