"""The dashboard page: static files the service serves at /dashboard/ (HTML, one script, one stylesheet, and
Chart.js copied from its pinned npm package by `make`). No code of its own runs on the server."""
