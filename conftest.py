"""Root conftest: load the plugin that starts the real Kafka and PostgreSQL once per session."""

pytest_plugins = ["durchstarten_deploy.testing"]
