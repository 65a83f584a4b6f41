"""The embedded mongod and the demo dataset behind `engagement-svc demo` (and the tests)."""
