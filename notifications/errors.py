"""Domain errors of the notifications app, translated at the edges (HTTP, socket)."""


class TopicNotFound(Exception):
    """No topic with that slug."""


class TopicForbidden(Exception):
    """The user may not follow that topic."""


class BroadcastNotCancellable(Exception):
    """Only a scheduled broadcast can be cancelled."""


class InvalidNotification(ValueError):
    """A producer's notification content or recipients were refused (the API's
    rules); ``args[0]`` holds the field errors. Not retried: the input is wrong."""
