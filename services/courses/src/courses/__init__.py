"""The courses service."""
