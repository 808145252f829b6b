"""WebSocket plumbing shared by every consumer: security stack and base consumer."""
