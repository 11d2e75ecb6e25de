"""Contract and platform library shared by every Durchstarten service."""
