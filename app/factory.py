"""create_app(): the Quart application with every package's routes and shared services."""

from __future__ import annotations

import structlog
from quart import Quart, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from app import health, metrics
from app.services import Services, build_services
from app.settings import Settings

__all__ = ["create_app"]

log = structlog.get_logger(__name__)


def create_app(settings: Settings, *, mongo_uri: str) -> Quart:
    """Build the service for `settings`, using the MongoDB server at `mongo_uri`.

    The database connection, indexes and the in-process worker start with the server
    (`before_serving`) and stop with it.
    """
    from app.admin import blueprint as admin_routes
    from canvas.routes import blueprint as canvas_routes
    from oauth.apps import UNREADABLE_SECRET_MESSAGE, AppSecretsUnreadable
    from oauth.routes import blueprint as oauth_routes
    from oauth.service import start_background_work
    from webhooks.dispatcher import Dispatcher
    from webhooks.routes import blueprint as webhook_routes

    app = Quart("intercom_app")
    app.config["SETTINGS"] = settings
    # Webhooks enforce WEBHOOK_MAX_BODY_BYTES themselves; this is the cap for every other route.
    app.config["MAX_CONTENT_LENGTH"] = max(settings.WEBHOOK_MAX_BODY_BYTES, 1_048_576)
    for blueprint in (webhook_routes, canvas_routes, oauth_routes, health.blueprint):
        app.register_blueprint(blueprint)
    # With METRICS_PORT set, `serve` exposes metrics on that port only, not to the public one.
    if not settings.METRICS_PORT:
        app.register_blueprint(metrics.blueprint)
    app.register_blueprint(admin_routes)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException):
        """Return routing and size errors as JSON that names the problem, like every route."""
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            message = f"{request.method} is not allowed on {request.path}; use {', '.join(sorted(error.valid_methods))}"
        elif isinstance(error, RequestEntityTooLarge):
            message = f"the request body is larger than the limit of {app.config['MAX_CONTENT_LENGTH']} bytes"
        elif error.code == 404:
            message = f"no endpoint at {request.path}; check the URL path and the app key in it"
        else:
            message = error.description or error.name
        response = jsonify({"error": message})
        response.status_code = error.code or 500
        return response

    @app.errorhandler(AppSecretsUnreadable)
    async def app_secrets_unreadable(error: AppSecretsUnreadable):
        """Return 503 when an app's stored secrets need a key missing from TOKEN_ENCRYPTION_KEYS.

        The app registry logs the details, so the response names no setting.
        """
        response = jsonify({"error": UNREADABLE_SECRET_MESSAGE})
        response.status_code = 503
        return response

    @app.before_serving
    async def start_services() -> None:
        services: Services = await build_services(settings, mongo_uri)
        app.extensions["intercom"] = services
        await start_background_work(services.intercom_api, settings)
        if settings.WORKERS_IN_PROCESS:
            services.dispatcher = Dispatcher(services)
            await services.dispatcher.start()
        log.info("service.started", env=settings.APP_ENV, public_url=settings.public_url,
                 worker_in_process=settings.WORKERS_IN_PROCESS)

    @app.after_serving
    async def stop_services() -> None:
        services: Services | None = app.extensions.pop("intercom", None)
        if services is None:
            return
        if services.dispatcher is not None:
            await services.dispatcher.stop(settings.WORKER_SHUTDOWN_SECONDS)
        await services.close()
        log.info("service.stopped")

    return app
