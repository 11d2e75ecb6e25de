UPDATE projection_versions SET state = 'retired', retired_at = now() WHERE state = 'live'
