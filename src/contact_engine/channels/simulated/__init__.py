"""The simulated provider: a seeded model of the phone network, SMS gateway and mailbox."""

from contact_engine.channels.simulated.channel import SimulatedChannel
from contact_engine.channels.simulated.model import OutcomeModel, SimulatedCall
from contact_engine.channels.simulated.network import (
    MemoryNetworkState,
    NetworkState,
    RedisNetworkState,
    SimulatedNetwork,
)

__all__ = [
    "MemoryNetworkState",
    "NetworkState",
    "OutcomeModel",
    "RedisNetworkState",
    "SimulatedCall",
    "SimulatedChannel",
    "SimulatedNetwork",
]
