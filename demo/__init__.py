"""`ioc demo`: the whole product in one process."""
