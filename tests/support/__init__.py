"""Helpers shared by test packages (a live hub, counting sockets, audiences);
fixtures stay in the conftest.py files that use them."""
