"""engagement-svc: Rocket.Chat Engagement Dashboard answers computed exactly from the messages themselves."""

__version__ = "0.1.0"
