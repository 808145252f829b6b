"""The chat admin shows message text escaped, never as HTML."""

from chat import services


def test_admin__message_text_is_escaped_in_list_and_form(make_user, client):
    root = make_user("root", is_staff=True, is_superuser=True)
    room = services.room_join(slug="lobby", user=root)
    message = services.message_post(
        room=room, author=root, text='<script>alert("x")</script>'
    )
    client.force_login(root)

    pages = [
        client.get("/admin/chat/message/"),
        client.get(f"/admin/chat/message/{message.pk}/change/"),
        client.get(f"/admin/chat/room/{room.pk}/change/"),
    ]

    for page in pages:
        assert page.status_code == 200
        assert b'<script>alert("x")' not in page.content
    assert b"&lt;script&gt;alert(" in pages[0].content
