"""The HTTP layer: one endpoint pipeline, the routes table, query parameters, errors, ops endpoints."""
