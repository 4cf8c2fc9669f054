"""Storage: the SQL system of record and the Redis client for hot state."""
