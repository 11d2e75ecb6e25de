"""Root conftest: the plugin that starts the real Kafka and PostgreSQL once per session.

Hypothesis' per-example deadline (200 ms by default) is a timed assertion: on a loaded
machine it fails tests whose logic is right. Speed is measured in `make bench`, so the
deadline is off for the whole suite.

`make test` runs the tests marked `integration` (the ones on the session's servers) and
the pure ones as two pytest processes side by side, so only the first starts a stack. A
test that reaches the servers without the marker would make the second start another
one: collection refuses it.
"""

import pytest
from hypothesis import settings

pytest_plugins = ["durchstarten_deploy.testing"]

settings.register_profile("durchstarten", deadline=None)
settings.load_profile("durchstarten")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a test that uses the session's PostgreSQL or Kafka without `integration`."""
    unmarked = [
        item.nodeid
        for item in items
        if "postgres_server" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("integration") is None
    ]
    if unmarked:
        msg = "tests on the session's servers must be marked integration: " + ", ".join(unmarked)
        raise pytest.UsageError(msg)
