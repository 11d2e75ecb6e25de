"""Provider simulator: scenarios replayed as the providers' systems would send them, a load
generator, and an oracle that computes the expected report figures independently."""
