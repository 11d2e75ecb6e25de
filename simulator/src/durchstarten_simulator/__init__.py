"""Provider simulator: scenario replay, a load generator and an independent oracle.

Scenarios are sent the way the providers' own systems would send them: CloudEvents JSON
on the inbound topics (or over HTTP); the oracle computes the expected report figures.
"""
