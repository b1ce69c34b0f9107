"""Outcome callbacks: the outbox's events, signed with Standard Webhooks, delivered at least once.

The outbox rows are written by `autobook.store` in the transaction of the outcome they report
(`store.outbox`); this package says what an event holds (`event`), where it may go (`ssrf`), and
delivers it (`delivery`), recording every attempt. Celery stays at the edge (`tasks`).
"""
