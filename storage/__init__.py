"""Storage lifecycle (rollups, retention, partitions) and availability reports."""
