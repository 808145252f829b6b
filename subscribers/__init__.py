"""Subscribers: a product's own users on the hub, its API keys, connection tokens."""
