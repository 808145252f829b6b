"""Writes of subscribers: create or update by external id, from a token, forget.

A subscriber is a hub user with an unusable password (it never logs in to the
hub's pages) and a :class:`Subscriber` row carrying the product's external id.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from emails.selectors import preference_get
from emails.services import preference_update
from notifications import selectors as notification_selectors
from notifications import services as notification_services
from subscribers.models import USERNAME_PREFIX, Subscriber

# The claims of a connection token that describe the subscriber (CONTRACT 6).
PROFILE_CLAIMS = ("email", "name", "timezone", "locale")


def _new_user(external_id: str) -> AbstractBaseUser:
    return get_user_model()(
        username=USERNAME_PREFIX + external_id, password=make_password(None)
    )


def _get_or_create(external_id: str) -> tuple[Subscriber, bool]:
    try:
        return Subscriber.objects.select_related("user").get(
            external_id=external_id
        ), False
    except Subscriber.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            user = _new_user(external_id)
            user.save()
            subscriber = Subscriber.objects.create(user=user, external_id=external_id)
            return subscriber, True
    except IntegrityError:
        # Another request created it meanwhile: use theirs.
        return Subscriber.objects.select_related("user").get(
            external_id=external_id
        ), False


def subscriber_upsert(
    *,
    external_id: str,
    email: str | None = None,
    name: str | None = None,
    timezone: str | None = None,
    locale: str | None = None,
    topics: list[str] | None = None,
) -> tuple[AbstractBaseUser, bool]:
    """Create the subscriber or update it; returns its user and whether it was new.

    A field left None is left as it is; ``topics`` (slugs) replaces the topics
    followed. Only changed values are written, so calling this on every request
    costs reads only. Raises TopicNotFound or TopicForbidden (nothing written).
    Input is trusted: validate with SubscriberSerializer or the token's checks.
    """
    with transaction.atomic():
        subscriber, created = _get_or_create(external_id)
        user = subscriber.user
        if email is not None and user.email != email:
            user.email = email
            user.save(update_fields=["email"])
        changed = []
        if name is not None and subscriber.name != name:
            subscriber.name = name
            changed.append("name")
        if locale is not None and subscriber.locale != locale:
            subscriber.locale = locale
            changed.append("locale")
        if changed:
            subscriber.save(update_fields=[*changed, "updated_at"])
        if (
            timezone is not None
            and preference_get(user_id=user.pk).timezone != timezone
        ):
            preference_update(user_id=user.pk, timezone=timezone)
        if topics is not None:
            _follow_exactly(user, topics)
    return user, created


def _follow_exactly(user: AbstractBaseUser, slugs: list[str]) -> None:
    wanted = set(slugs)
    followed = set(notification_selectors.topic_slugs_followed(user_id=user.pk))
    for slug in sorted(wanted - followed):
        notification_services.topic_subscribe(user=user, slug=slug)
    for slug in sorted(followed - wanted):
        notification_services.topic_unsubscribe(user=user, slug=slug)


def subscribers_ensure(*, external_ids: list[str]) -> dict[str, int]:
    """The user id of each external id; unknown ones are created as subscribers.

    A few statements whatever the number of ids (a notify to 1,000 new ids does
    not make 2,000 round trips). Ids are trusted: validate their shape first.
    """
    wanted = set(external_ids)
    found = dict(
        Subscriber.objects.filter(external_id__in=wanted).values_list(
            "external_id", "user_id"
        )
    )
    missing = sorted(wanted - found.keys())
    if not missing:
        return found
    user_model = get_user_model()
    usernames = {USERNAME_PREFIX + x: x for x in missing}
    with transaction.atomic():
        # ignore_conflicts: a concurrent call creating the same ones is no error.
        user_model.objects.bulk_create(
            [_new_user(x) for x in missing], ignore_conflicts=True
        )
        user_ids = dict(
            user_model.objects.filter(username__in=usernames).values_list(
                "username", "pk"
            )
        )
        Subscriber.objects.bulk_create(
            [
                Subscriber(user_id=pk, external_id=usernames[username])
                for username, pk in user_ids.items()
            ],
            ignore_conflicts=True,
        )
    found.update(
        Subscriber.objects.filter(external_id__in=missing).values_list(
            "external_id", "user_id"
        )
    )
    return found


def subscriber_from_claims(claims: dict) -> AbstractBaseUser:
    """The user of a verified connection token's ``sub``, created or updated from
    its ``name``, ``email``, ``timezone`` and ``locale`` claims.

    Runs on every request a token signs, so a known subscriber whose claims
    match costs reads only: no transaction, which on SQLite would take the
    write lock (transaction_mode IMMEDIATE).
    """
    profile = {k: claims[k] for k in PROFILE_CLAIMS if claims.get(k) is not None}
    try:
        subscriber = Subscriber.objects.select_related("user").get(
            external_id=claims["sub"]
        )
    except Subscriber.DoesNotExist:
        subscriber = None
    if subscriber is not None and not _profile_differs(subscriber, profile):
        return subscriber.user
    user, _ = subscriber_upsert(external_id=claims["sub"], **profile)
    return user


def _profile_differs(subscriber: Subscriber, profile: dict) -> bool:
    current = {
        "email": subscriber.user.email,
        "name": subscriber.name,
        "locale": subscriber.locale,
    }
    if any(current[k] != v for k, v in profile.items() if k in current):
        return True
    return (
        "timezone" in profile
        and preference_get(user_id=subscriber.user_id).timezone != profile["timezone"]
    )


def subscriber_forget(*, external_id: str) -> None:
    """Erase the subscriber (a GDPR erasure request); unknown ids are a no-op.

    The user row is deleted, and with it, by the database's cascades, everything
    that names the person: notifications, email preferences and the record of
    emails sent, topic subscriptions, chat memberships and messages, API tokens
    and any push subscriptions. Broadcasts they asked for stay, anonymous. The
    external id is free again: using it later makes a new, empty subscriber.
    """
    with transaction.atomic():
        user_id = (
            Subscriber.objects.select_for_update()
            .filter(external_id=external_id)
            .values_list("user_id", flat=True)
            .first()
        )
        if user_id is None:
            return
        get_user_model().objects.filter(pk=user_id).delete()
