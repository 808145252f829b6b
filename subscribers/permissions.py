"""Who may call an endpoint with an API key: the key's scopes, one rule per class."""

from rest_framework.permissions import BasePermission, IsAdminUser

from subscribers.models import ApiKey, Scope


def user_rule_or_key_scope(
    user_rule: type[BasePermission], scope: str
) -> type[BasePermission]:
    """A permission: a request with an API key needs ``scope``; any other
    request is judged by ``user_rule`` (the endpoint's existing rule), with its
    message. DRF's ``A | B`` would lose both messages."""

    class UserRuleOrKeyScope(BasePermission):
        def has_permission(self, request, view) -> bool:
            if isinstance(request.auth, ApiKey):
                self.message = f"This API key does not have the '{scope}' scope."
                return request.auth.has_scope(scope)
            rule = user_rule()
            self.message = getattr(rule, "message", None)
            return rule.has_permission(request, view)

    UserRuleOrKeyScope.__name__ = f"{user_rule.__name__}OrKey_{scope}"
    UserRuleOrKeyScope.__doc__ = f"{user_rule.__doc__} Or an API key with '{scope}'."
    return UserRuleOrKeyScope


class IsStaffForSubscribers(IsAdminUser):
    """Staff: the hub's own admins may manage subscribers without a key."""

    message = (
        "Subscriber endpoints need an API key with the 'subscribers' or "
        "'tokens' scope, or staff."
    )


StaffOrKeyMayManageSubscribers = user_rule_or_key_scope(
    IsStaffForSubscribers, Scope.SUBSCRIBERS
)
StaffOrKeyMayMintTokens = user_rule_or_key_scope(IsStaffForSubscribers, Scope.TOKENS)
