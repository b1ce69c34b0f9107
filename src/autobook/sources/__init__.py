"""Sources: the systems that post booking requests over HTTP, and what they need.

A *source* is one calling system (a HubSpot workflow, a Salesforce flow, a Typeform form, a
website). Each has credentials (`credentials`: an API key kept as a digest, or a signing secret
kept sealed by `sealing`), a way to check a signed body (`signatures`), a rate limit and replay
memory shared by every server (`guards`), and optionally a mapping from its own payload to a
booking request (`mapping`). The rows live in `autobook.store.sources`; the HTTP door that uses
all this is `autobook.serve`, and the command line `autobook.sources_cli`.
"""
