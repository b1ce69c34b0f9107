"""autobook: book Calendly meetings end to end from a queue, with no person in the loop."""

__version__ = "0.1.0"
