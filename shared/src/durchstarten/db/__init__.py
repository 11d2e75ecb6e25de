"""Database helpers: connection pools and the migration runner."""
