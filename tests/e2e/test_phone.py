"""The app on a phone (web/e2e/phone.mjs, 390x844, touch): every control of every view is a finger's
size in both languages, a pending file's × has a finger-sized hit area reaching no other file, the
composer's switches keep to one line, the on-screen keyboard leaves the composer and the last answer
in sight (and a tap on send, log in or a form's button where it showed while typing reaches it), the
chats drawer and a confirmation box handle the focus and Escape as a modal should (and keep still
where less motion is asked for), an answer's citations are finger-sized, on a phone on its side the
sign-up form scrolls to its title and the chat's messages keep half of the screen (and half of what
its keyboard leaves), on a touch tablet every control is a finger's size too, and a short desktop
window keeps its header and persona chips while typing.
Screenshots land in tests/e2e/screenshots/phone/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Product, no_page_errors, passed, query_now
from tests.e2e.journeys import Journey

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="session")
def phone(journeys: dict[str, Journey]) -> dict[str, Any]:
    return journeys["phone"].result()


def test_a_screen_reader_hears_each_answer_being_written_and_finished(phone: dict[str, Any]) -> None:
    """The chat's live region (read out by a screen reader, unseen) says, for each of the two
    questions, that the answer is being written and then that it is complete; it said nothing, so
    a blind user had no word of an answer starting or ending."""
    detail = passed(phone, "sign up on a phone and ask twice")["detail"]
    assert detail["heard"] == ["正在生成回答…", "回答已完成", "正在生成回答…", "回答已完成"]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_control_of_every_view_is_finger_sized(phone: dict[str, Any], language: str) -> None:
    """Chat, history, roles, profile, usage and keys at 390px, with what opens on a tap (a question's
    edit form, the chats drawer, the share sheet, a confirmation box, a new key): no button, link,
    select, persona chip or checkbox label is under 40px either way (44 as designed); the share
    sheet's "include reasoning" and a persona's "thinking on by default" were 20px tall. The model
    picker and the thinking and search switches were 30-36px, the persona chips 30px, history's
    delete 26px, the roles' "chat with it" and the profile's buttons and links 30-38px, the app's
    logo link 28px. The picker and the switches fit one line (they took two, even in Chinese). A
    persona of one's own with a long name, switched off: its "private" and "switched off" badges keep
    their words on one line (squeezed beside the name they broke: 私/有, 已停/用, Switched/off)."""
    detail = passed(phone, f"every control of every view is finger-sized on a phone ({language})")["detail"]
    assert detail["small"] == {}
    assert detail["options"] == {"rows": 1, "overflow": []}


def test_with_the_keyboard_up_a_tap_on_a_forms_button_reaches_it(phone: dict[str, Any]) -> None:
    """The keys view's form on a 390x400 page (the keyboard up): the name typed, a tap on "create"
    where it showed while typing makes the key. The app's header, away while a field had the focus,
    came back as the field lost it (on the tap's touch), the button moved from under the finger,
    and the tap reached nothing."""
    assert phone["keyMadeByTap"] is True


def test_a_pending_files_remove_button_is_finger_sized_and_reaches_no_other_file(phone: dict[str, Any]) -> None:
    """The × on a file waiting to be sent is drawn 20px, but every point of the 40px square round it
    removes that file (a tap 16px off the glyph did nothing), no point of the next file's picture
    does, and the middle of its own picture is still the picture."""
    detail = passed(phone, "a pending file's × is a finger's size and reaches no other file")["detail"]
    for area in detail["areas"]:
        assert area == {"glyph": 20, "square": True, "neighbours": False, "picture": True}
    assert detail["removed"] is True
    assert detail["left"] == ["b.png"]


def test_with_the_keyboard_up_the_composer_and_the_last_answer_are_in_sight(phone: dict[str, Any]) -> None:
    """The page 400px tall (the keyboard's share of a 844px phone taken): the app's header, the tab
    bar and the persona chips step aside, so the conversation keeps a useful height above the
    composer (it had 32px, the last answer's text out of sight below it), the end of the last answer
    shows in it, and the composer and its send button are on the screen. As short with no field
    focused (a phone sharing its screen with another app) the header and the tab bar stay."""
    detail = passed(phone, "with the on-screen keyboard up (390x400) the composer and the last answer are in sight")[
        "detail"
    ]
    assert detail["height"] == 400
    assert detail["composer"] is True
    assert detail["send"] is True
    assert detail["tabbar"] == 0
    assert detail["header"] == 0
    assert detail["unfocused"]["header"] > 0
    assert detail["unfocused"]["tabbar"] > 0
    assert detail["pane"] >= 160, detail
    assert detail["lastAnswerShown"] >= 100, detail


def test_with_an_ios_keyboard_up_the_composer_and_the_last_answer_are_in_sight(phone: dict[str, Any]) -> None:
    """iOS Safari ignores index.html's interactive-widget: the keyboard shrinks only the visual
    viewport (400px of the 844px page, emulated) and may pan it down the page. The app follows the
    visual viewport: it is 400px tall where that viewport is (at its top, then 300px down), the
    header and the tab bar step aside as on Android, and the composer, its send button and the end
    of the last answer show; the composer sat at the page's bottom, 444px under the keyboard. With
    the keyboard down the app fills the page again, its tab bar back."""
    detail = passed(
        phone,
        "with an iOS keyboard up (a 400px visual viewport on a 844px page) the composer and the last answer show",
    )["detail"]
    for offset, layout in ((0, detail["keyboard"]), (300, detail["panned"])):
        assert layout["app"] == [offset, offset + 400], layout
        assert layout["composer"] is True, layout
        assert layout["send"] is True, layout
        assert layout["header"] == 0, layout
        assert layout["tabbar"] == 0, layout
        assert layout["pane"] >= 160, layout
        assert layout["lastAnswerShown"] >= 100, layout
    assert detail["after"]["app"] == 844, detail
    assert detail["after"]["tabbar"] > 0, detail


def test_with_an_ios_keyboard_up_a_forms_field_stays_in_sight(phone: dict[str, Any]) -> None:
    """The profile's avatar address (596px down the 844px page) tapped, the iOS keyboard up (a 400px
    visual viewport panned 300px down, as Safari pans to the field): the field is in what shows. The
    app took the visual viewport's height and place but left its view scrolled where it was, the
    field 539px down a 400px app, under the keyboard: what was typed could not be seen."""
    detail = passed(
        phone,
        "with an iOS keyboard up (a 400px visual viewport on a 844px page) the composer and the last answer show",
    )["detail"]
    assert detail["form"] == {"focused": True, "inSight": True}


def test_on_a_touch_tablet_every_control_is_finger_sized(phone: dict[str, Any]) -> None:
    """820x1180 with a touch screen (a tablet; a touch laptop is as wide): no control of the chat,
    history, roles, profile, usage or keys view under 40px either way. Finger-sized controls went by
    the width alone (below 640px), so a tablet had the desktop's 24-32px buttons. The same width
    with a mouse keeps the compact controls (the header's language button among them)."""
    detail = passed(
        phone, "on a touch tablet (820x1180) every control of every view is finger-sized, with a mouse as before"
    )["detail"]
    assert detail["touch"] == {}
    assert detail["mouseSmall"] > 0


def test_the_chats_drawer_gives_the_focus_back_on_escape(phone: dict[str, Any]) -> None:
    detail = passed(phone, "the chats drawer takes the focus, closes on Escape and gives it back")["detail"]
    assert detail["returned"] == "open-sessions"


def test_a_confirmation_box_is_cancelled_by_escape(phone: dict[str, Any], product: Product) -> None:
    detail = passed(phone, "a confirmation box takes the focus, Escape keeps the chat and gives the focus back")[
        "detail"
    ]
    assert detail == {"returned": "history-delete", "sessions": 1}
    rows = query_now(product, "select count(*) as n from chat_sessions where id = $1", phone["sessionId"])
    assert rows[0]["n"] == 1


def test_with_reduced_motion_the_drawer_and_a_confirmation_box_do_not_move(phone: dict[str, Any]) -> None:
    """A browser whose user asked for less motion (prefers-reduced-motion: reduce): the chats drawer
    and a confirmation box (Element Plus's) open and close, and a message ("saved") shows, without a
    transition or an animation; the drawer slid in and out and the box dropped in over a fading
    overlay there as anywhere (0.3 s each), the message slid down (0.4 s). Elsewhere they still move
    (so the check sees the motion)."""
    detail = passed(
        phone, "with reduced motion asked for, the chats drawer and a confirmation box appear and go without moving"
    )["detail"]
    assert detail["moving"]["drawer"] > 0, detail
    assert detail["moving"]["box"] > 0, detail
    assert detail["moving"]["message"] > 0, detail
    assert detail["still"] == {"drawer": 0, "box": 0, "message": 0}


def test_on_a_phone_return_starts_a_new_line_and_the_send_button_sends(phone: dict[str, Any], product: Product) -> None:
    """A phone's keyboard has no Shift: its Return key sent the half-typed question, so no
    question could have a second line. Now Return adds the line, nothing is sent until the send
    button is tapped, and the question is stored with both lines. Typed with the keyboard up (the
    page 400px tall) and sent with a tap where send showed while typing: the tab bar, away while
    typing, came back under the composer as the tap took the focus from it, send moved 51px up
    from under the finger and the question was not sent."""
    detail = passed(phone, "on a phone the keyboard's Return key starts a new line, and the send button sends")[
        "detail"
    ]
    assert detail == {"typed": "第一行\n第二行", "turnsAfterReturn": 2, "sent": True, "turns": 3}
    rows = query_now(
        product,
        "select content from chat_messages where session_id = $1 and message_type = 'user' order by created_at",
        phone["sessionId"],
    )
    contents = [row["content"] for row in rows]
    assert "第一行\n第二行" in contents
    assert "第一行" not in contents


def test_an_answers_web_sources_are_finger_sized(phone: dict[str, Any]) -> None:
    """An answer with web search on lists its sources under it: on a phone each is a link at least
    40px tall (44 as designed); they were lines of small print about 16px tall."""
    detail = passed(phone, "an answer's web sources are finger-sized links on a phone")["detail"]
    assert detail["links"] > 0
    assert detail["small"] == []


def test_an_answers_citations_are_finger_sized_and_reach_no_other_citation(phone: dict[str, Any]) -> None:
    """An answer's [n] citation badges on a phone: every point of the 40px square round each one's
    middle opens its source (44 as designed), and no point of one covers another's badge, [1][2]
    side by side included; they were badges about 14x15px, in the middle of the text a finger reads."""
    areas = passed(phone, "an answer's [n] citations are finger-sized on a phone and reach no other citation")[
        "detail"
    ]["areas"]
    assert len(areas) > 0
    assert [{"square": a["square"], "others": a["others"]} for a in areas] == [
        {"square": True, "others": False} for _ in areas
    ], areas


def test_signed_out_the_links_between_the_forms_are_finger_sized(phone: dict[str, Any]) -> None:
    """Log in's "forgot password" and "sign up", and sign up's and the reset page's "log in": no
    side under 40px (44 as designed) on a phone; they were words 20px tall, the only way between
    the forms for someone signed out."""
    sizes = passed(phone, "signed out, the links between log in, sign up and the forgotten password are finger-sized")[
        "detail"
    ]["sizes"]
    assert len(sizes) == 4
    assert {name: size for name, size in sizes.items() if size < 40} == {}


def test_with_the_keyboard_up_a_tap_on_log_in_signs_in(phone: dict[str, Any]) -> None:
    """Log in on a 390x400 page (the keyboard up): e-mail and password typed, the app's header
    away while typing, a tap on the button where it showed signs in. The header came back as the
    password lost the focus on the tap's touch, the button moved 57px down from under the finger,
    and the tap did nothing."""
    keyboard = passed(
        phone, "signed out, the links between log in, sign up and the forgotten password are finger-sized"
    )["detail"]["keyboard"]
    assert keyboard == {"focused": "password", "header": 0, "signedIn": True}


def test_on_a_phone_on_its_side_the_sign_up_form_scrolls_to_its_title(phone: dict[str, Any]) -> None:
    """844x390: the form is taller than the screen, and scrolled to the top its title shows (the
    card was centred in its scrolling box, so its top half sat above the box's top, where no
    scrolling reaches: the title and the username field could not be seen); scrolled to the bottom,
    its button."""
    detail = passed(phone, "on a phone on its side (844x390) the sign-up form scrolls from its title to its button")[
        "detail"
    ]
    assert detail["titleBelowTop"] >= 0, detail
    assert detail["submitAboveBottom"] >= 0, detail


def test_no_page_errors(phone: dict[str, Any]) -> None:
    no_page_errors(phone)


def test_on_a_360px_phone_everything_fits_and_is_finger_sized(phone: dict[str, Any]) -> None:
    """360x740, the narrowest phone in common use, in Chinese and in English: in the chat, history,
    roles, profile, usage and keys views, with a question's edit form, the chats drawer, the share
    sheet, a confirmation box and a new key open, and on the signed-out log in, sign up and reset
    forms, no control is under 40px either way (44 as designed) and nothing reaches past the
    screen's edge (a key named with one long word pushed the keys view 121px past it)."""
    found = passed(
        phone,
        "on a 360px phone every view, what opens in it and the signed-out forms fit the screen,"
        " each control finger-sized (zh, en)",
    )["detail"]
    assert found == {}


def test_on_a_phone_on_its_side_the_headers_links_keep_their_words_whole(phone: dict[str, Any]) -> None:
    """From 640px wide the app header holds the views' links (no tab bar): on a touch screen 640, 740
    and 844px wide (phones on their side), in Chinese and in English, every link and button of the
    header keeps its words on one line (no taller than 45px), none is under 40px, and nothing reaches
    past the screen's edge. At 740px the Chinese links broke inside their words (聊/天, 个人中/心,
    API 密/钥), the header's links 60px tall."""
    found = passed(
        phone, "on a phone on its side (640 to 844px wide) the header's links keep their words on one line (zh, en)"
    )["detail"]
    assert found == {}


def test_on_a_phone_on_its_side_the_messages_get_half_the_screen(phone: dict[str, Any]) -> None:
    """640x360, 740x360 and 844x390 on a touch screen, in Chinese and in English: the chat's message
    area is at least half of the screen's height with the composer unfocused, focused and typed in;
    the header's links, the composer, its send button and the model picker stay in sight, no control
    is under 40px and nothing reaches past the screen's edge. It was 45px at 360px tall and 75px at
    390px (93px and 123px focused): the app's header, the chat's header over a row of persona chips
    and a composer of two rows under its switches took the rest, one or two lines of an answer."""
    found = passed(
        phone,
        "on a phone on its side (640x360, 740x360, 844x390) the chat's messages get half the screen,"
        " composer focused or not (zh, en)",
    )["detail"]
    assert len(found) == 6
    for where, shown in found.items():
        for state in ("unfocused", "focused", "typed"):
            layout = shown[state]
            assert layout["pane"] * 2 >= shown["height"], (where, state, layout)
            assert {k: layout[k] for k in ("nav", "composer", "send", "options")} == dict.fromkeys(
                ("nav", "composer", "send", "options"), True
            ), (where, state, layout)
        assert shown["small"] == [], (where, shown["small"])
        assert shown["over"] == [], (where, shown["over"])


def test_on_a_phone_on_its_side_with_the_keyboard_up_the_messages_keep_half_of_what_it_leaves(
    phone: dict[str, Any],
) -> None:
    """640x360, 740x360 and 844x390 on a touch screen, the composer focused and the keyboard taking
    55% of the height (Android's page shrunk to what it leaves, or iOS's visual viewport alone), in
    Chinese and in English: the app's header and the chat's header step aside, the message area
    keeps at least half of what the keyboard leaves with the last answer's end in it, the composer and
    its send button are in sight, no control is under 40px and nothing reaches past the edge. From
    640px wide the app's header stayed (44px) with the chat's header (45px): of 162px at 360px tall
    the conversation had none."""
    found = passed(
        phone,
        "on a phone on its side with the keyboard up (Android's page, iOS's visual viewport: 45% of 640x360,"
        " 740x360, 844x390) the messages keep half of what it leaves, the headers stepping aside (zh, en)",
    )["detail"]
    assert len(found) == 12
    for where, shown in found.items():
        assert shown["focused"] == "composer", (where, shown)
        assert shown["header"] == 0, (where, shown)
        assert shown["pane"] * 2 >= shown["left"], (where, shown)
        assert shown["endInSight"], (where, shown)
        assert shown["composer"], (where, shown)
        assert shown["send"], (where, shown)
        assert shown["small"] == [], (where, shown["small"])
        assert shown["over"] == [], (where, shown["over"])


def test_a_short_desktop_window_keeps_its_header_and_chips_while_typing(phone: dict[str, Any]) -> None:
    """A 1024x450 window with a mouse (no on-screen keyboard comes): the app's header and the persona
    chips stay when the composer takes the focus. The keyboard: variant went by the height alone,
    so a short desktop window lost its persona chips on a click into the composer."""
    detail = passed(
        phone, "a desktop window as short (1024x450, a mouse) keeps its header and persona chips while typing"
    )["detail"]
    assert detail["before"]["header"] > 0, detail
    assert detail["before"]["chips"] > 0, detail
    # The conversation gives only what the composer takes as it grows to two lines on the focus.
    assert {k: detail["typing"][k] for k in ("header", "chips")} == {
        k: detail["before"][k] for k in ("header", "chips")
    }, detail


def test_on_a_phone_on_its_side_every_view_fits(phone: dict[str, Any]) -> None:
    """844x390 (a phone on its side), in Chinese and in English: in the chat, history, roles,
    profile, usage and keys views no control is under 40px either way and nothing reaches past the
    screen's edge (a small phone upright is the 360px step's)."""
    found = passed(
        phone, "on a phone on its side (844x390) every view fits the screen, each control finger-sized (zh, en)"
    )["detail"]
    assert found == {}
