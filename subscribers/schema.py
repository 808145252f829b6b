"""The OpenAPI security schemes of API keys and connection tokens (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "subscribers.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>` from `manage.py hub_api_key create`; "
            "allowed only the endpoints of its scopes.",
        }


class ConnectionTokenScheme(OpenApiAuthenticationExtension):
    target_class = "subscribers.authentication.ConnectionTokenAuthentication"
    name = "connectionToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A connection token the product signed for one "
            "subscriber (sub, exp, aud=hub).",
        }
