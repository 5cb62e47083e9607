"""Every menu path of the default hotline, driven through the caller simulator."""

from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy import select, update

from ivr.config import SETTINGS
from ivr.menu.load import load_menu
from ivr.sim.caller import Caller, EndState
from store.demo import LI_XIUYING, WANG_JIANGUO, ZHANG_WEI
from store.models import Call, CallEvent, Person, ProbeGuard
from tests.conftest import post_status, signed_post

WANG_KEYED = WANG_JIANGUO[:-1] + "*"  # the X keyed as * on the phone
WANG_PIN = "135790"
MENU = load_menu(SETTINGS["IVR_MENU"][0])  # the menu the app serves
WELCOME = MENU.text("welcome")
# The main menu's <Say>s: the menu in Mandarin, then the offer of English service in English.
MAIN_SAYS = [MENU.text("main_menu"), MENU.text("language_offer")]
MAIN_MENU = "".join(MAIN_SAYS)
MEDICAL_MENU = MENU.text("medical_menu")
ASK_ID = MENU.text("ask_id")
ASK_PIN = MENU.text("ask_pin")
INVALID_KEY = MENU.text("invalid_key")
NO_INPUT = MENU.text("no_input")
GOODBYE = MENU.text("goodbye")
TRANSFER = MENU.text("transfer")
AGENT_UNAVAILABLE = MENU.text("agent_unavailable")
PIN_FORMAT = MENU.text("pin_format")
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def auth_failed(remaining: str) -> str:
    """The failed-verification message with the tries left in words."""
    return MENU.text("auth_failed", remaining=remaining)


def with_check_digit(first17: str) -> str:
    """An ID with its ISO 7064 MOD 11-2 check digit, so only the tested part is wrong."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


def verify(caller: Caller, entry: str = WANG_KEYED, pin: str = WANG_PIN, key: str = "2") -> str:
    """Dial, pick a service and verify; return what was heard after the PIN."""
    caller.dial()
    assert ASK_ID in caller.press(key)
    assert ASK_PIN in caller.press(entry + "#")
    return caller.press(pin + "#")


def set_person(app, id_number: str, **values: object) -> None:
    """Change a person's row directly (the test's arrangement, not the app's path)."""
    with app.extensions["ivr"].sessions() as session:
        session.execute(update(Person).where(Person.id_number == id_number).values(**values))
        session.commit()


def person(app, id_number: str) -> Person:
    """A person's row as stored now."""
    with app.extensions["ivr"].sessions() as session:
        return session.scalars(select(Person).where(Person.id_number == id_number)).one()


def test_welcome_then_main_menu(caller: Caller) -> None:
    heard = caller.dial()
    assert heard.startswith(WELCOME)
    assert heard.endswith(MAIN_MENU)
    assert caller.waiting is not None and caller.waiting.num_digits == 1


def test_curl_post_to_voice_returns_welcome(make_app, twiml_checker) -> None:
    unsigned = make_app(IVR_AUTH_TOKEN="")  # as on a developer's machine with no token
    form = {"CallSid": "CAcurl", "From": "+8613800138000"}
    reply = unsigned.test_client().post("/voice", data=form)
    assert reply.status_code == 200
    assert reply.content_type.startswith("text/xml")
    twiml_checker.validate(reply.data)
    root = etree.fromstring(reply.data)
    assert root.tag == "Response"
    assert root.findtext("Say") == WELCOME
    gather = root.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    says = gather.findall("Say")  # the menu in Mandarin, then the English offer in English
    assert [say.text for say in says] == MAIN_SAYS
    assert [(say.get("voice"), say.get("language")) for say in says] == [
        ("Polly.Zhiyu", "cmn-CN"),
        ("Polly.Joanna", "en-US"),
    ]
    assert root.find("Redirect") is not None  # the fall-through when the caller is silent


@pytest.mark.parametrize(
    ("fen", "spoken"),
    [
        (123456, "一千二百三十四元五角六分"),
        (1005, "十元零五分"),
        (100500, "一千零五元"),
        (230000, "两千三百元"),
        (20000000, "二十万元"),
        (1000001, "一万元零一分"),
        (50, "五角"),
        (6, "六分"),
        (0, "零元"),
    ],
)
def test_balance_is_read_in_yuan_jiao_fen(app, caller: Caller, fen: int, spoken: str) -> None:
    set_person(app, WANG_JIANGUO, balance_fen=fen)
    assert MEDICAL_MENU in verify(caller)
    heard = caller.press("1")
    assert heard.startswith(MENU.text("balance", amount=spoken, as_of="二零二六年十一月一日"))
    assert heard.endswith(caller.heard[-1]) and MEDICAL_MENU in caller.heard[-1]
    assert not any(ch.isdigit() for ch in heard.split("。")[0])  # never read as digits


def test_card_number_login(caller: Caller) -> None:
    assert MEDICAL_MENU in verify(caller, entry="650100017")
    assert "一千二百三十四元五角六分" in caller.press("1")


def test_id_with_literal_x_also_works_for_http_users(caller: Caller) -> None:
    assert MEDICAL_MENU in verify(caller, entry=WANG_JIANGUO[:-1] + "*")


def test_social_insurance_status_then_main_menu(caller: Caller) -> None:
    heard = verify(caller, key="1")
    region = "新疆维吾尔自治区天山区"
    status = MENU.text("social_status", status="正常参保", scheme="职工基本医疗保险", region=region)
    assert status in heard
    assert heard.endswith(MAIN_MENU)


def test_identity_is_asked_once_per_call(caller: Caller) -> None:
    verify(caller, key="1")
    heard = caller.press("2")  # the medical menu needs identity too: not asked again
    assert ASK_ID not in heard and MEDICAL_MENU in heard


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("650102196803121098", "校验位不正确"),
        (with_check_digit("65010219680230109"), "出生日期不正确"),  # 30 February
        (with_check_digit("65010220281201109"), "出生日期不正确"),  # born in 2028
        (with_check_digit("65010218990101109"), "出生日期不正确"),  # aged over 120
        (with_check_digit("99999919680312109"), "地区代码不正确"),
        ("650102196803121", "十五位身份证号码已停止使用"),
        ("6501021968", "位数不正确"),
        ("65010219*803121090", "星号键只能代替最后一位X"),
    ],
)
def test_bad_id_names_the_problem_and_asks_again(caller: Caller, entry: str, message: str) -> None:
    caller.dial()
    caller.press("2")
    heard = caller.press(entry + "#")
    assert message in heard
    assert heard.endswith(caller.heard[-1]) and ASK_ID in caller.heard[-1]
    # A malformed ID costs no verification try: the right one still verifies.
    assert ASK_PIN in caller.press(WANG_KEYED + "#")
    assert MEDICAL_MENU in caller.press(WANG_PIN + "#")


def test_wrong_pin_and_unknown_id_sound_exactly_the_same(make_caller) -> None:
    wrong_pin, unknown_id = make_caller(), make_caller()
    verify(wrong_pin, pin="000000")
    verify(unknown_id, entry="110101199001011237", pin=WANG_PIN)
    assert wrong_pin.heard[-2:] == unknown_id.heard[-2:]
    assert wrong_pin.heard[-2] == auth_failed("两")
    assert ASK_ID in wrong_pin.heard[-1]


UNKNOWN_ID = "110101199001011237"  # well-formed, not on file
UNKNOWN_CARD = "650100999"


@pytest.mark.parametrize(
    ("known", "unknown"),
    [(WANG_KEYED, UNKNOWN_ID), ("650100017", UNKNOWN_CARD)],
    ids=["id", "card"],
)
def test_unknown_numbers_sound_like_wrong_pins_through_the_lockout(
    app, make_caller, known: str, unknown: str
) -> None:
    """Three wrong PINs, then a later call: a number on file and one that is not are heard
    the same at every step, lock-out included, so no caller can probe which IDs exist."""
    heard = {}
    for label, entry in (("known", known), ("unknown", unknown)):
        first = make_caller()
        verify(first, entry=entry, pin="000000")
        for attempt in ("000001", "000002"):
            first.press(entry + "#")
            first.press(attempt + "#")
        later = make_caller()
        verify(later, entry=entry, pin="000003")
        heard[label] = (first.heard, first.end_state, later.heard, later.end_state)
    assert heard["known"] == heard["unknown"]
    first_heard, _, later_heard, _ = heard["known"]
    assert first_heard[-2:] == [MENU.text("locked_now"), GOODBYE]
    assert later_heard[-3:] == [MENU.text("locked"), *MAIN_SAYS]


def test_unlock_also_clears_an_unknown_ids_lock(app, make_caller) -> None:
    for _ in range(3):
        call = make_caller()
        verify(call, entry=UNKNOWN_ID, pin="000000")
        call.hangup()
    assert "已锁定" in verify(make_caller(), entry=UNKNOWN_ID, pin="000000")
    result = app.test_cli_runner().invoke(args=["unlock", UNKNOWN_ID])
    assert result.exit_code == 0 and "not on file" in result.output  # its guard goes
    assert auth_failed("两") in verify(make_caller(), entry=UNKNOWN_ID, pin="000000")


def test_probe_guards_never_hold_the_number(app, make_caller) -> None:
    verify(make_caller(), entry=UNKNOWN_ID, pin="000000")
    with app.extensions["ivr"].sessions() as session:
        guards = session.scalars(select(ProbeGuard)).all()
        probes = session.scalars(select(Call.probe)).all()
    assert len(guards) == 1 and guards[0].failed_pins == 1
    assert len(guards[0].key) == 64 and UNKNOWN_ID[:-4] not in guards[0].key
    assert all(p is None or UNKNOWN_ID[:-4] not in p for p in probes)


def test_pin_of_wrong_length_is_asked_again(caller: Caller) -> None:
    heard = verify(caller, pin="1234")
    assert PIN_FORMAT in heard and ASK_PIN in heard
    assert MEDICAL_MENU in caller.press(WANG_PIN + "#")


def test_three_failed_verifications_end_the_call(caller: Caller) -> None:
    verify(caller, entry=ZHANG_WEI, pin="000000")
    caller.press(ZHANG_WEI + "#")
    assert auth_failed("一") in caller.press("000001#")
    caller.press("110101199001011237#")  # unknown IDs count the same
    heard = caller.press("000002#")
    assert heard == MENU.text("auth_failed_final") + GOODBYE
    assert caller.end_state == EndState.HANGUP


def test_lockout_persists_across_calls_until_unlock(app, make_caller) -> None:
    first = make_caller()
    verify(first, pin="000000")
    first.press(WANG_KEYED + "#")
    first.press("000001#")
    first.press(WANG_KEYED + "#")
    heard = first.press("000002#")
    assert "您的查询密码已锁定" in heard and first.end_state == EndState.HANGUP
    assert person(app, WANG_JIANGUO).locked
    later = make_caller()
    heard = verify(later)  # even the right PIN is refused while locked
    assert "您的查询密码已锁定" in heard and heard.endswith(MAIN_MENU)
    result = app.test_cli_runner().invoke(args=["unlock", WANG_JIANGUO])
    assert result.exit_code == 0, result.output
    assert MEDICAL_MENU in verify(make_caller())
    assert person(app, WANG_JIANGUO).failed_pins == 0


def test_lockout_counts_consecutive_wrong_pins_across_calls(app, make_caller) -> None:
    for _ in range(2):
        call = make_caller()
        verify(call, pin="000000")
        call.hangup()
    assert person(app, WANG_JIANGUO).failed_pins == 2
    heard = verify(make_caller(), pin="000000")
    assert "查询密码连续输入错误三次，您的查询密码已锁定" in heard


def test_correct_pin_resets_the_failure_count(app, make_caller) -> None:
    call = make_caller()
    verify(call, pin="000000")
    call.press(WANG_KEYED + "#")
    assert MEDICAL_MENU in call.press(WANG_PIN + "#")
    assert person(app, WANG_JIANGUO).failed_pins == 0


def test_star_repeats_and_hash_goes_back(caller: Caller) -> None:
    caller.dial()
    assert caller.press("*") == MAIN_MENU
    verify_heard = caller.press("2")
    assert ASK_ID in verify_heard
    caller.press(WANG_KEYED + "#")
    caller.press(WANG_PIN + "#")
    assert MEDICAL_MENU in caller.press("*")
    assert caller.press("#") == MAIN_MENU


@pytest.mark.parametrize("key", ["5", "8", "#"])  # 9 is the English line
def test_invalid_key_says_so_and_repeats_the_menu(caller: Caller, key: str) -> None:
    caller.dial()
    assert caller.press(key) == INVALID_KEY + MAIN_MENU


def test_three_invalid_keys_transfer_within_agent_hours(caller: Caller) -> None:
    caller.dial()
    caller.press("7")
    caller.press("8")
    heard = caller.press("6")
    assert heard.endswith(TRANSFER)
    assert caller.end_state == EndState.ENQUEUE and caller.queue == "agents"


def test_three_invalid_keys_hang_up_outside_agent_hours(caller: Caller, clock) -> None:
    clock.set("2026-11-25T20:00")
    caller.dial()
    caller.press("7")
    caller.press("8")
    assert caller.press("6") == INVALID_KEY + GOODBYE
    assert caller.end_state == EndState.HANGUP


def test_no_input_reprompts_then_hangs_up_on_the_third(caller: Caller) -> None:
    caller.dial()
    assert caller.silence() == NO_INPUT + MAIN_MENU
    assert caller.silence() == NO_INPUT + MAIN_MENU
    assert caller.silence() == GOODBYE
    assert caller.end_state == EndState.HANGUP


def test_a_key_press_resets_the_no_input_count(caller: Caller) -> None:
    caller.dial()
    caller.silence()
    caller.silence()
    caller.press("*")
    assert caller.silence().startswith(NO_INPUT)
    assert not caller.ended


def test_no_input_at_the_id_prompt_asks_for_the_id_again(caller: Caller) -> None:
    caller.dial()
    caller.press("2")
    heard = caller.silence()
    assert heard.startswith(NO_INPUT) and ASK_ID in heard


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        ("2026-11-25T10:00", True),  # Wednesday morning
        ("2026-11-25T12:15", False),  # lunch
        ("2026-11-25T16:59", True),
        ("2026-11-25T17:00", False),
        ("2026-11-28T10:00", False),  # Saturday
    ],
)
def test_agent_key_within_and_outside_hours(caller: Caller, clock, when: str, open_: bool) -> None:
    clock.set(when)
    caller.dial()
    heard = caller.press("0")
    if open_:
        assert heard == TRANSFER
        assert caller.end_state == EndState.ENQUEUE
    else:
        hours = "八点三十分至十一点三十分、十三点至十七点"
        assert heard == MENU.text("agent_closed", hours=hours) + MAIN_MENU
        assert not caller.ended


def test_agent_number_is_dialled_when_configured(make_app, demo_prepared, make_caller) -> None:
    dial_app = make_app(IVR_AGENT_NUMBER="+862112333")
    caller = make_caller(dial_app)
    caller.dial()
    assert caller.press("0") == TRANSFER
    assert caller.end_state == EndState.TRANSFER and caller.dialed == "+862112333"


def test_agent_from_the_medical_menu_outside_hours_returns_there(caller: Caller, clock) -> None:
    clock.set("2026-11-25T22:00")
    verify(caller)
    heard = caller.press("0")
    assert "现在是非人工服务时间" in heard and MEDICAL_MENU in heard


def test_always_open_agents(make_app, make_caller, clock) -> None:
    clock.set("2026-11-29T03:00")  # a Sunday night
    caller = make_caller(make_app(IVR_AGENT_HOURS="always"))
    caller.dial()
    caller.press("0")
    assert caller.end_state == EndState.ENQUEUE


def test_caller_hangup_mid_call_leaves_state_consistent(app, caller: Caller, make_caller) -> None:
    verify(caller, pin="000000")
    caller.hangup()
    assert caller.end_state == EndState.CALLER_HANGUP
    assert person(app, WANG_JIANGUO).failed_pins == 1
    # Another person's call is unaffected.
    other = make_caller()
    assert MEDICAL_MENU in verify(other, entry=LI_XIUYING, pin="246810")


@pytest.mark.parametrize(
    ("dial_status", "says"),
    [
        ("completed", []),
        ("answered", []),
        ("no-answer", [AGENT_UNAVAILABLE, GOODBYE]),
        ("busy", [AGENT_UNAVAILABLE, GOODBYE]),
        ("failed", [AGENT_UNAVAILABLE, GOODBYE]),
    ],
)
def test_after_the_agent_leg_ends(make_app, make_caller, twiml_checker, dial_status, says) -> None:
    dial_app = make_app(IVR_AGENT_NUMBER="+862112333")
    caller = make_caller(dial_app)
    caller.dial()
    caller.press("0")
    dial = etree.fromstring(caller.last_twiml.encode()).find("Dial")
    assert dial is not None and dial.get("action") == "/voice/dialled"
    form = {"CallSid": caller.call_sid, "DialCallStatus": dial_status}
    reply = signed_post(dial_app, "http://localhost/voice/dialled", form)
    twiml_checker.validate(reply.data)
    root = etree.fromstring(reply.data)
    assert [say.text for say in root.iter("Say")] == says
    assert [child.tag for child in root][-1] == "Hangup"


@pytest.mark.parametrize("status", ["completed", "busy", "failed", "no-answer", "canceled"])
def test_status_callback_marks_the_call_ended(app, caller: Caller, status: str) -> None:
    caller.dial()
    assert post_status(app, caller.call_sid, status) == 204
    with app.extensions["ivr"].sessions() as session:
        assert session.get_one(Call, caller.call_sid).ended
        outcomes = session.scalars(
            select(CallEvent.outcome).where(CallEvent.call_sid == caller.call_sid)
        ).all()
    assert outcomes[-1] == f"status {status}"
    # A late request for the ended call gets a goodbye, not the menu again.
    assert caller.press("2") == GOODBYE


def test_status_callback_in_progress_changes_nothing(app, caller: Caller) -> None:
    caller.dial()
    assert post_status(app, caller.call_sid, "in-progress") == 204
    with app.extensions["ivr"].sessions() as session:
        assert not session.get_one(Call, caller.call_sid).ended
    assert ASK_ID in caller.press("2")


@pytest.mark.parametrize("pin", ["１３５７９０", "١٣٥٧٩٠"])
def test_non_ascii_digits_are_no_pin_and_cost_no_try(app, caller: Caller, pin: str) -> None:
    caller.dial()
    caller.press("2")
    caller.press(WANG_KEYED + "#")
    # No keypad sends these; a hand-made request might, so post it as Twilio would.
    form = {"CallSid": caller.call_sid, "Digits": pin, "FinishedOnKey": "#"}
    reply = signed_post(app, caller.waiting.action, form)
    root = etree.fromstring(reply.data)
    assert root.findtext("Say") == PIN_FORMAT
    assert ASK_PIN in root.find("Gather").findtext("Say")
    assert person(app, WANG_JIANGUO).failed_pins == 0


def test_the_callers_transcript_keeps_no_pin_or_full_id(caller: Caller) -> None:
    verify(caller)
    pressed = [t.text for t in caller.transcript if t.kind == "pressed"]
    assert pressed == ["2", "**************109*#", "******#"]
    posted = [t.form.get("Digits") for t in caller.transcript if t.form and "Digits" in t.form]
    assert posted == ["2", "**************109*", "******"]
    assert not any(WANG_PIN in repr(t) or WANG_JIANGUO[:-1] in repr(t) for t in caller.transcript)
