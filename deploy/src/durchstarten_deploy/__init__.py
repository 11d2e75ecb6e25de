"""Local stack: Apache Kafka (KRaft) from Maven Central jars, PostgreSQL, and the services."""
