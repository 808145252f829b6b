"""The real-time layer: from a stored event to the sockets that must see it.

``publish`` is the one gateway onto the channel layer, ``groups`` names what it
publishes to, ``layer`` is the channel layer (and the only module that knows
channels_redis' internals), ``consumers`` is the base every WebSocket consumer
builds on, ``security`` checks who opens a socket, ``tickets`` are single-use
socket credentials and ``db`` runs a socket's database reads.
"""
