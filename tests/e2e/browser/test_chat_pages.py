"""The chat pages in real browsers: two users with typing, presence and read
receipts, and the seed documents' tutorial client on the same socket."""

import pytest
from playwright.sync_api import expect

from chat.models import Message, Room
from tests.e2e.browser.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_chat__two_users_talk_with_typing_presence_and_receipts(
    web, signed_in, make_web_user
):
    alice, bob = make_web_user("alice"), make_web_user("bob")
    alice_page = signed_in(alice, "/chat/e2e-room/")
    bob_page = signed_in(bob, "/chat/e2e-room/")
    alice_presence = alice_page.locator("[data-chat-presence]")
    expect(alice_presence).to_contain_text("bob")
    expect(bob_page.locator("[data-chat-presence]")).to_contain_text("alice")

    bob_page.locator("[data-chat-input]").press_sequentially("hel")
    expect(alice_page.locator("[data-chat-typing]")).to_have_text("bob is typing…")
    bob_page.locator("[data-chat-input]").fill("hello <b>alice</b>")
    bob_page.locator("[data-chat-input]").press("Enter")

    message = alice_page.locator(".hub-chat__msg").filter(has_text="hello")
    expect(message.locator(".hub-chat__text")).to_have_text("hello <b>alice</b>")
    expect(message.locator("b")).to_have_count(0)  # text, never HTML
    expect(message.locator("strong")).to_have_text("bob")
    expect(alice_page.locator("[data-chat-typing]")).to_have_text("")
    # alice's page read it: bob sees the receipt under his message.
    expect(bob_page.locator(".hub-chat__receipts")).to_have_text("Seen by alice")

    alice_page.locator("[data-chat-input]").fill("hi bob, all good")
    alice_page.locator("[data-chat-input]").press("Enter")
    expect(bob_page.locator(".hub-chat__msg").last).to_contain_text("hi bob, all good")
    last = alice_page.locator(".hub-chat__msg").last
    expect(last.locator(".hub-chat__receipts")).to_have_text("Seen by bob")
    screenshot(alice_page, "chat")

    bob_page.close()
    expect(alice_presence).not_to_contain_text("bob")


def test_chat__seed_tutorial_client_sends_and_receives_with_usernames(
    web, signed_in, make_web_user
):
    alice, bob = make_web_user("alice"), make_web_user("bob")
    classic = signed_in(alice, "/topics/")
    bob_page = signed_in(bob, "/chat/lobby/")
    expect(bob_page.locator("[data-chat-presence]")).to_contain_text("bob")

    with classic.expect_console_message(lambda m: m.text == "connected"):
        classic.goto(web.base_url + "/chat/lobby/classic/")
    with classic.expect_console_message(
        lambda m: m.text == "alice: hello from the tutorial"
    ):
        classic.evaluate("sendMessage('hello from the tutorial')")
    message = bob_page.locator(".hub-chat__msg").filter(has_text="from the tutorial")
    expect(message.locator("strong")).to_have_text("alice")

    with classic.expect_console_message(lambda m: m.text == "bob: hi, tutorial"):
        bob_page.locator("[data-chat-input]").fill("hi, tutorial")
        bob_page.locator("[data-chat-input]").press("Enter")


def test_chat__older_history_loads_from_the_api(web, signed_in, make_web_user):
    alice = make_web_user("alice")
    room = Room.objects.create(slug="long-room", name="Long room")
    Message.objects.bulk_create(
        Message(room=room, author=alice, text=f"message {i:02d}") for i in range(60)
    )
    page = signed_in(alice, "/chat/long-room/")
    messages = page.locator(".hub-chat__msg")
    expect(messages).to_have_count(50)  # the socket's history frame
    expect(messages.first).to_contain_text("message 10")

    page.get_by_role("button", name="Load older messages").click()

    expect(messages).to_have_count(60)
    expect(messages.first).to_contain_text("message 00")
    expect(messages.last).to_contain_text("message 59")
    expect(page.get_by_role("button", name="Load older messages")).to_be_hidden()
