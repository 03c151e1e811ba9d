"""PostgreSQL high availability: a local Patroni + etcd cluster (``ioc db local-ha``)."""
