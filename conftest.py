"""Root conftest: the plugin that starts the real Kafka and PostgreSQL once per session.

Hypothesis' per-example deadline (200 ms by default) is a timed assertion: on a loaded
machine it fails tests whose logic is right. Speed is measured in `make bench`, so the
deadline is off for the whole suite.
"""

from hypothesis import settings

pytest_plugins = ["durchstarten_deploy.testing"]

settings.register_profile("durchstarten", deadline=None)
settings.load_profile("durchstarten")
