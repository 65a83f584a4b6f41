"""The dashboard page: static files the service serves at /dashboard/ (HTML, one script, one stylesheet, and
Chart.js, committed under static/vendor/ from its pinned npm package by `make vendor`, so that every install
serves the whole page). No code of its own runs on the server."""
