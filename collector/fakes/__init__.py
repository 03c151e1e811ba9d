"""Device fakes for tests and the demo: vendor HTTP APIs that cannot run for real here."""
