"""A faithful fake of the DashScope HTTP API for tests, benchmarks and offline use."""
