"""``contact-engine api``: serve the webhooks and read API with uvicorn."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``api`` command to the CLI."""

    @app.command("api")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to bind / 监听地址."),
        port: int = typer.Option(8000, help="Port / 端口."),
    ) -> None:
        """Serve Twilio webhooks and the read API / 提供 Twilio 回调与查询接口."""
        from contact_engine.cli_support import run
        from contact_engine.processes import serve_api

        run(serve_api(host, port))
