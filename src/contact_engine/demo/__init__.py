"""The demo: a simulated month of the whole engine."""
