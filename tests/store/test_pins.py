"""PIN hashes keyed with a secret outside the database: the hash, old hashes, key rotation."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import inspect, select, text
from werkzeug.security import generate_password_hash

from ivr.config import SETTINGS
from ivr.menu.load import load_menu
from ivr.sim.caller import Caller
from store import pins
from store.demo import LI_XIUYING, WANG_JIANGUO
from store.models import Person
from store.pins import PinKeyError, PinKeyring
from tests.servers import PIN_KEY, cli_env, run_cli, sqlite_url
from tests.web.test_call_flow import MEDICAL_MENU, WANG_PIN, person, set_person, verify

OTHER_KEY = "fedcba9876543210" * 4
KEYS = PinKeyring((bytes.fromhex(PIN_KEY),))
ERROR = load_menu(SETTINGS["IVR_MENU"][0]).text("error")


# ------------------------------------------------------------------------- the hash itself


def test_a_hash_is_keyed_salted_and_names_its_key() -> None:
    first, second = KEYS.hash("135790"), KEYS.hash("135790")
    assert first != second  # salted: equal PINs do not show as equal hashes
    assert pins.hash_kind(first) == KEYS.current_id == pins.key_id(bytes.fromhex(PIN_KEY))
    assert "135790" not in first and PIN_KEY not in first and len(first) <= 256
    assert KEYS.verify("135790", first) and KEYS.verify("135790", second)
    assert not KEYS.verify("135791", first)


def test_another_key_cannot_check_a_hash_it_did_not_make() -> None:
    other = PinKeyring((bytes.fromhex(OTHER_KEY),))
    with pytest.raises(PinKeyError, match=f"key {KEYS.current_id}, which is not loaded"):
        other.verify("135790", KEYS.hash("135790"))


def test_an_older_key_still_checks_and_asks_for_a_new_hash() -> None:
    rotated = PinKeyring((bytes.fromhex(OTHER_KEY), bytes.fromhex(PIN_KEY)))
    old = KEYS.hash("246810")
    assert rotated.verify("246810", old) and rotated.needs_rehash(old)
    assert not rotated.needs_rehash(rotated.hash("246810"))


@pytest.mark.parametrize(
    ("stored", "pin", "expected"),
    [(generate_password_hash("112233", "scrypt:1024:8:1"), "112233", True),
     (generate_password_hash("112233", "scrypt:1024:8:1"), "112234", False),
     (generate_password_hash("112233", "pbkdf2:sha256:1000"), "112233", True),
     ("not a hash at all", "112233", False),
     ("hk1$zzzz$bad", "112233", False)],
    ids=["scrypt right", "scrypt wrong", "pbkdf2", "garbage", "broken keyed form"],
)  # fmt: skip
def test_hashes_from_before_keyed_hashing_are_still_checked(stored, pin, expected) -> None:
    assert KEYS.verify(pin, stored) is expected
    assert KEYS.needs_rehash(stored) and pins.hash_kind(stored) == pins.LEGACY


@pytest.mark.parametrize(
    ("key", "old", "message"),
    [("abc", "", "IVR_PIN_KEY: a PIN key is 64 hex characters"),
     (PIN_KEY, "xyz", "IVR_PIN_OLD_KEYS: a PIN key is 64 hex characters"),
     ("", "", "IVR_PIN_KEY and IVR_PIN_KEY_FILE are empty")],
)  # fmt: skip
def test_a_malformed_or_missing_key_is_one_clear_error(key, old, message) -> None:
    with pytest.raises(PinKeyError, match=message):
        pins.load_keyring(key, old, "")


def test_a_key_file_holds_keys_newest_first_and_only_its_owner_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "instance" / "pin.key"
    pins.write_key_file(path, [bytes.fromhex(OTHER_KEY), bytes.fromhex(PIN_KEY)])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = pins.load_keyring("", "", str(path))
    assert ring.ids == (pins.key_id(bytes.fromhex(OTHER_KEY)), KEYS.current_id)
    path.write_text("# comment\n\nnot-a-key\n")
    with pytest.raises(PinKeyError, match=r"pin.key:3: a PIN key is 64 hex"):
        pins.load_keyring("", "", str(path))


# ------------------------------------------------------------------- on the phone


def test_a_right_pin_remakes_an_old_hash_under_the_current_key(app: Flask, caller: Caller) -> None:
    old = generate_password_hash(WANG_PIN, "scrypt:1024:8:1")
    set_person(app, WANG_JIANGUO, pin_hash=old)
    assert MEDICAL_MENU in verify(caller)
    stored = person(app, WANG_JIANGUO).pin_hash
    assert pins.hash_kind(stored) == KEYS.current_id and KEYS.verify(WANG_PIN, stored)


def test_a_wrong_pin_leaves_an_old_hash_as_it_is(app: Flask, caller: Caller) -> None:
    old = generate_password_hash(WANG_PIN, "scrypt:1024:8:1")
    set_person(app, WANG_JIANGUO, pin_hash=old)
    verify(caller, pin="000000")
    assert (person(app, WANG_JIANGUO).pin_hash, person(app, WANG_JIANGUO).failed_pins) == (old, 1)


def test_rotation_an_older_key_verifies_and_its_hash_moves_to_the_new_key(
    make_app: Callable[..., Flask], demo_prepared, make_caller: Callable[..., Caller]
) -> None:  # fmt: skip
    """The demo hashes were made under PIN_KEY; the new app's current key is OTHER_KEY."""
    from store.import_apply import import_data

    rotated = make_app(IVR_PIN_KEY=OTHER_KEY, IVR_PIN_OLD_KEYS=PIN_KEY)
    with rotated.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    assert MEDICAL_MENU in verify(make_caller(rotated))
    new_id = rotated.extensions["ivr"].pins.current_id
    assert pins.hash_kind(person(rotated, WANG_JIANGUO).pin_hash) == new_id
    assert pins.hash_kind(person(rotated, LI_XIUYING).pin_hash) == KEYS.current_id  # not yet


def test_a_hash_under_a_key_not_loaded_is_an_apology_and_counts_nothing(
    make_app: Callable[..., Flask], demo_prepared, make_caller: Callable[..., Caller]
) -> None:  # fmt: skip
    from store.import_apply import import_data

    forgot = make_app(IVR_PIN_KEY=OTHER_KEY)  # the old key was dropped too early
    with forgot.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    heard = verify(make_caller(forgot))
    assert ERROR in heard and MEDICAL_MENU not in heard
    assert person(forgot, WANG_JIANGUO).failed_pins == 0


def test_an_app_with_no_key_apologises_at_the_pin_and_counts_nothing(
    make_app: Callable[..., Flask], demo_prepared, make_caller: Callable[..., Caller]
) -> None:  # fmt: skip
    """serve refuses to start without a key; an app built some other way fails safe."""
    from store.import_apply import import_data

    keyless = make_app(IVR_PIN_KEY="", IVR_PIN_KEY_FILE="")
    assert keyless.extensions["ivr"].pins is None
    with keyless.extensions["ivr"].sessions() as session:
        import_data(session, demo_prepared)
    heard = verify(make_caller(keyless))
    assert ERROR in heard and MEDICAL_MENU not in heard
    assert person(keyless, WANG_JIANGUO).failed_pins == 0


def test_neither_the_key_nor_a_pin_is_in_the_database(app: Flask, caller: Caller) -> None:
    verify(caller)
    engine = app.extensions["ivr"].engine
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                dumped = " ".join(map(str, row))
                assert PIN_KEY not in dumped and WANG_PIN not in dumped, table


# ------------------------------------------------------------------------ the commands


def key_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """A CLI environment on a fresh SQLite file that reads its keys from a key file."""
    url = sqlite_url(tmp_path / "keys.sqlite3")
    return cli_env(tmp_path, url, IVR_PIN_KEY="", IVR_PIN_KEY_FILE=str(tmp_path / "pin.key"),
                   **settings)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["import", "demo.json"]])
def test_serve_and_import_refuse_to_start_without_a_key(tmp_path: Path, command) -> None:
    env = key_env(tmp_path)
    assert run_cli(["db", "upgrade"], env).returncode == 0
    result = run_cli(command, env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "no PIN key" in errors[0] and "pin-key new" in errors[0], errors
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_pin_key_new_status_and_retire(tmp_path: Path) -> None:
    """Make a key, load the demo, rotate, and retire the old key once no hash uses it."""
    env = key_env(tmp_path)
    assert run_cli(["db", "upgrade"], env).returncode == 0
    made = run_cli(["pin-key", "new"], env)
    assert made.returncode == 0 and "0 older key(s) kept" in made.stdout, made.stderr
    first = pins.read_key_file(tmp_path / "pin.key")
    demo = run_cli(["demo-data", "-o", str(tmp_path / "demo.json"), "--load-if-empty"], env)
    assert demo.returncode == 0, demo.stderr
    assert run_cli(["pin-key", "new"], env).returncode == 0
    keys = pins.read_key_file(tmp_path / "pin.key")
    assert keys[1:] == first and len(keys) == 2
    old_id, new_id = pins.key_id(first[0]), pins.key_id(keys[0])
    status = run_cli(["pin-key", "status"], env)
    assert status.returncode == 0
    assert re.search(rf"{new_id}\s+│\s+current\s+│\s+0", status.stdout), status.stdout
    assert re.search(rf"{old_id}\s+│\s+older\s+│\s+7", status.stdout), status.stdout
    refused = run_cli(["pin-key", "retire", old_id], env)
    assert refused.returncode == 1 and "7 PIN hash(es) still use" in refused.stderr
    assert "current key" in run_cli(["pin-key", "retire", new_id], env).stderr
    reimport = run_cli(["import", str(tmp_path / "demo.json")], env)  # every PIN hashed anew
    assert reimport.returncode == 0, reimport.stderr
    retired = run_cli(["pin-key", "retire", old_id], env)
    assert retired.returncode == 0, retired.stderr
    assert pins.read_key_file(tmp_path / "pin.key") == keys[:1]


@pytest.mark.slow
def test_pin_key_status_flags_hashes_under_a_key_not_loaded(
    app: Flask, tmp_path: Path, database_url: str
) -> None:  # fmt: skip
    with app.extensions["ivr"].sessions() as session:
        session.execute(
            Person.__table__.update()
            .where(Person.id_number == WANG_JIANGUO)
            .values(pin_hash=PinKeyring((bytes.fromhex(OTHER_KEY),)).hash("1"))
        )
        session.commit()
        assert session.scalar(select(Person.pin_hash).where(Person.id_number == LI_XIUYING))
    status = run_cli(["pin-key", "status"], cli_env(tmp_path, database_url))
    assert status.returncode == 1
    assert "not loaded" in status.stdout and re.search(r"│\s+6\s+│", status.stdout)


@pytest.mark.slow
def test_pin_key_new_print_writes_nothing(tmp_path: Path) -> None:
    env = key_env(tmp_path)
    shown = run_cli(["pin-key", "new", "--print"], env)
    assert shown.returncode == 0 and pins.KEY_RE.fullmatch(shown.stdout.strip())
    assert not (tmp_path / "pin.key").exists()


@pytest.mark.slow
def test_pin_key_new_if_missing_makes_one_key_once(tmp_path: Path) -> None:
    """What `make run` does before serving: a key the first time, nothing after."""
    env = key_env(tmp_path)
    assert run_cli(["pin-key", "new", "--if-missing"], env).returncode == 0
    first = pins.read_key_file(tmp_path / "pin.key")
    assert run_cli(["pin-key", "new", "--if-missing"], env).returncode == 0
    assert pins.read_key_file(tmp_path / "pin.key") == first and len(first) == 1
