"""What the service reads from Rocket.Chat and how: authentication, permissions, the rate limit, rooms."""
