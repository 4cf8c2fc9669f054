"""Fixtures shared with the provider tests (the OpenAPI-checking Twilio server)."""

from providers import conftest as provider_fixtures

fake_twilio = provider_fixtures.fake_twilio
_twilio_spec_loaded = provider_fixtures._twilio_spec_loaded
