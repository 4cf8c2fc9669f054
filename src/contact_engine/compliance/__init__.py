"""The compliance gate: policy packs -> rules -> Decision, with an atomic ledger."""
