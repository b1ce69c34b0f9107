"""The booking service: resolve the event type, search slots, book, reconcile."""
