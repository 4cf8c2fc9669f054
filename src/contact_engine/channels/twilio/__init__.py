"""Twilio adapters: voice calls and SMS (twilio-python's asynchronous client)."""
