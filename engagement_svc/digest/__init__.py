"""The engagement digest: a period's headline numbers, counted by the service's own reports, posted to a Rocket.Chat
incoming webhook, by `engagement-svc digest` or once a week inside `serve`."""
