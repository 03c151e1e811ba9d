"""REST API for IOC operators, technicians and integrations.

Bearer tokens (`ioc users create`); roles operator (read), technician (+ acknowledge, assign,
silence) and admin (+ registry, users). Users limited to some communes see only those.
Times are RFC 3339 with an offset; errors are JSON `{"detail": ...}`.
"""
