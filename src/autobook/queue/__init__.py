"""The queue door: what autobook accepts from the broker, and the transports that read it.

`envelope` turns a raw broker item into a kombu envelope or a quarantine envelope; `transports`
are kombu's Redis and filesystem transports with that door built in (and atomic file writes);
`gate` says what is wrong with a Celery message before Celery tries to run it.
"""
