"""``python -m contact_engine`` runs the CLI."""

from contact_engine.cli import main

main()
