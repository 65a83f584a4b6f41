"""Helpers every test shares: the brute-force oracle, Rocket.Chat-shaped data, HTTP helpers, a live server."""
