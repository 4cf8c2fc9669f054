"""contact-engine: compliant contact orchestration for debt collection."""

__version__ = "0.1.0"
