"""Reading QA call scripts (ivr.qa.load): the format, variables, and every error's line."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from ivr.qa.load import (
    DEFAULT_CALLER,
    ScriptError,
    find_scripts,
    load_script,
    load_scripts,
    read_env_file,
)
from ivr.qa.model import Expectation, MatchKind, Script, Step, StepKind
from ivr.sim.turns import EndState

# Four good lines, so a broken step appended to them is on line 5.
HEAD = 'name: t\nsteps:\n  - expect: 欢迎\n  - press: "2"\n'

EXAMPLE = """\
name: 医保余额查询（身份证尾号X）
caller: "+8613800138000"        # From
tags: [balance, smoke]
vars: {PIN: "000000"}
steps:
  - expect: 欢迎致电幺二三三三
  - press: "2"
  - expect: {regex: "身份证号码.*井号键结束"}
  - press: "65010219680312109*#"
  - press: "${PIN}#"
  - press: "1"
  - expect: {any: ["一千二百三十四元五角六分", "一千两百三十四元五角六分"]}
  - expect_not: 王建国
  - silence: 1
  - wait_ms: 200
  - hangup
expect_end: hangup
max_step_ms: 500
"""


def write(folder: Path, text: str, name: str = "script.yaml") -> Path:
    """A script file with this text."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")
    return path


def text_step(kind: StepKind, line: int, text: str) -> Step:
    """An expect / expect_not step on a plain substring."""
    return Step(kind, line, expectation=Expectation(MatchKind.TEXT, (text,)))


def test_the_issue_example_parses_into_its_steps(tmp_path: Path) -> None:
    """Every field of the issue's example lands in the Script, each step with its own line."""
    path = write(tmp_path, EXAMPLE)
    script = load_script(path, {"PIN": "135790"})
    amounts = ("一千二百三十四元五角六分", "一千两百三十四元五角六分")
    regex = Expectation(MatchKind.REGEX, ("身份证号码.*井号键结束",))
    assert script == Script(
        name="医保余额查询（身份证尾号X）",
        path=path,
        caller="+8613800138000",
        tags=("balance", "smoke"),
        steps=(
            text_step(StepKind.EXPECT, 6, "欢迎致电幺二三三三"),
            Step(StepKind.PRESS, 7, keys="2"),
            Step(StepKind.EXPECT, 8, expectation=regex),
            Step(StepKind.PRESS, 9, keys="65010219680312109*#"),
            Step(StepKind.PRESS, 10, keys="135790#"),
            Step(StepKind.PRESS, 11, keys="1"),
            Step(StepKind.EXPECT, 12, expectation=Expectation(MatchKind.ANY, amounts)),
            text_step(StepKind.EXPECT_NOT, 13, "王建国"),
            Step(StepKind.SILENCE, 14, count=1),
            Step(StepKind.WAIT_MS, 15, ms=200),
            Step(StepKind.HANGUP, 16),
        ),
        expect_end=EndState.HANGUP,
        max_step_ms=500.0,
    )
    assert [step.describe() for step in script.steps][3:5] == [
        "press **************109*#",
        "press ******#",
    ]


def test_defaults_and_bare_words(tmp_path: Path) -> None:
    """Only `steps` is needed; bare `silence` is one timeout; unquoted keys stay as written."""
    path = write(tmp_path, "steps:\n  - silence\n  - press: 0123\n  - press: 1\n  - hangup:\n")
    script = load_script(path)
    assert (script.name, script.caller, script.tags) == ("script", DEFAULT_CALLER, ())
    assert (script.expect_end, script.max_step_ms) == (None, None)
    assert script.steps == (
        Step(StepKind.SILENCE, 2, count=1),
        Step(StepKind.PRESS, 3, keys="0123"),  # YAML would have read 0123 as octal 83
        Step(StepKind.PRESS, 4, keys="1"),
        Step(StepKind.HANGUP, 5),
    )


BROKEN = [
    # (script text, line, the reason after "FILE:LINE: ")
    ("name: t\nstep:\n  - hangup\n", 2, "unknown key 'step'; did you mean 'steps'?"),
    ("name: t\ntags: [a]\n", 1, "missing `steps`"),
    ("name: t\nsteps: []\n", 2, "steps: empty"),
    ("name: t\nsteps: hangup\n", 2, "steps: expected a list"),
    ("name: t\nsteps:\n  - hangup\nname: u\n", 4, "duplicate key 'name'"),
    ("- hangup\n", 1, "expected a mapping"),
    ("name: t\nsteps: [hangup\n", 3, "not valid YAML"),
    (HEAD + '  - pres: "1"\n', 5, "unknown step 'pres'; did you mean 'press'?"),
    (HEAD + "  - hang up\n", 5, "unknown step 'hang up'; did you mean 'hangup'?"),
    (HEAD + "  - 5\n", 5, "unknown step 5"),
    (HEAD + '  - press: "1"\n    expect: 欢迎\n', 5, "one step has one key, found press, expect"),
    (HEAD + '  - {press: "1", press: "2"}\n', 5, "duplicate key 'press'"),
    (HEAD + '  - [press, "1"]\n', 5, "expected a step such as"),
    (HEAD + "  - {}\n", 5, "expected a step such as"),
    (HEAD + "  -\n", 5, "expected a step such as"),
    (HEAD + "  - press\n", 5, "press needs a value"),
    (HEAD + "  - expect\n", 5, "expect needs a value"),
    (HEAD + "  - press:\n", 5, "press: expected keys in quotes"),
    (HEAD + "  - press: #\n", 5, 'press: expected keys in quotes, e.g. press: "1#" (an unquoted #'),
    (HEAD + '  - press: "12a"\n', 5, "press: keys are 0-9, * and #; found 'a'"),
    (HEAD + '  - press: "${PINN}#"\n', 5, "press: unknown variable ${PINN}"),
    (HEAD + '  - press: "${PIN"\n', 5, "press: unclosed '${'"),
    (HEAD + '  - press: "${1X}"\n', 5, "press: ${1X} is not a variable name"),
    (HEAD + '  - expect: "${WHO}"\n', 5, "expect: unknown variable ${WHO}"),
    (HEAD + '  - expect: {regex: "(unclosed"}\n', 5, "expect: bad regex '(unclosed': missing )"),
    (HEAD + "  - expect: {any: []}\n", 5, "expect: any needs a list of texts"),
    (HEAD + "  - expect_not: {any: [1, 2]}\n", 5, "expect_not: any needs a list of texts"),
    (HEAD + "  - expect: {regx: a}\n", 5, "expect: write text, {regex:"),
    (HEAD + "  - expect: {regex: a, any: [b]}\n", 5, "expect: write text, {regex:"),
    (HEAD + "  - expect: 5\n", 5, "expect: write text"),
    (HEAD + '  - expect: ""\n', 5, "expect: empty text would match anything"),
    (HEAD + "  - silence: 0\n", 5, "silence: expected a whole number of at least 1"),
    (HEAD + "  - silence: true\n", 5, "silence: expected a whole number"),
    (HEAD + "  - wait_ms: -1\n", 5, "wait_ms: expected a whole number from 0 to 60000"),
    (HEAD + '  - wait_ms: "200"\n', 5, "wait_ms: expected a whole number"),
    (HEAD + "  - wait_ms:\n", 5, "wait_ms: expected a whole number"),
    (HEAD + "  - hangup: now\n", 5, "hangup takes no value"),
    (HEAD + "expect_end: hung_up\n", 5, "expect_end: expected one of hangup, transfer"),
    (HEAD + "max_step_ms: 0\n", 5, "max_step_ms: expected milliseconds above 0"),
    (HEAD + "max_step_ms: true\n", 5, "max_step_ms: expected milliseconds"),
    (HEAD + "caller: +8613800138000\n", 5, 'caller: expected text in quotes: "+86'),
    (HEAD + "tags: balance\n", 5, "tags: expected a list of words"),
    ('name: "${WHO}"\nsteps: [hangup]\n', 1, "name: unknown variable ${WHO}"),
    (HEAD + "vars: [PIN]\n", 5, "vars: expected a mapping"),
    (HEAD + 'vars:\n  1PIN: "1"\n', 6, "vars: '1PIN' is not a variable name"),
    (HEAD + "vars:\n  PIN:\n", 6, "vars.PIN: expected one value in quotes"),
]


@pytest.mark.parametrize(("text", "line", "reason"), BROKEN)
def test_broken_scripts_name_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    """Each broken script fails with FILE:LINE: reason, on the line that is wrong."""
    path = write(tmp_path, text)
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: {reason}"), message
    assert (caught.value.path, caught.value.line) == (path, line)
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"# only a comment\n", "empty file"),
        (b"name: \xff\xfe\n", "not UTF-8 text"),
        (b"a: 1\n---\nb: 2\n", "not valid YAML"),
        (b"steps: !!python/object:os.system [hangup]\n", "not valid YAML"),
    ],
)
def test_unusable_files_are_named(tmp_path: Path, content: bytes, reason: str) -> None:
    """Empty, non-UTF-8, multi-document and unsafe files: errors naming the file."""
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert str(caught.value).startswith(f"{path}:")
    assert reason in str(caught.value)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    """A folder given as a script cannot be read; the error says which one."""
    with pytest.raises(ScriptError, match=r"cannot read") as caught:
        load_script(tmp_path)
    assert caught.value.path == tmp_path and caught.value.line is None


VARS_SCRIPT = """\
name: ${WHO} 查询
vars: {PIN: "111111", WHO: 王, CODE: 012345}
steps:
  - press: "${PIN}#"
  - expect: 余额${AMOUNT}
  - expect: {regex: "^${WHO}"}
  - expect_not: {any: ["${CODE}", x]}
"""


@pytest.mark.parametrize(
    ("given", "pin", "who"),
    [
        ({"AMOUNT": "十元"}, "111111", "王"),  # the script's own vars
        ({"AMOUNT": "十元", "PIN": "135790"}, "135790", "王"),  # --var / env file win
        ({"AMOUNT": "十元", "WHO": "李"}, "111111", "李"),
    ],
)
def test_variables_fill_keys_texts_and_name(
    tmp_path: Path, given: dict[str, str], pin: str, who: str
) -> None:
    """${NAME} is filled from `vars`, overridden by the variables passed in."""
    script = load_script(write(tmp_path, VARS_SCRIPT), given)
    assert script.name == f"{who} 查询"
    press, text, regex, anyof = script.steps
    assert press.keys == f"{pin}#"
    assert text.expectation == Expectation(MatchKind.TEXT, ("余额十元",))
    assert regex.expectation == Expectation(MatchKind.REGEX, (f"^{who}",))
    # An unquoted 012345 is kept as written, not read as an octal number.
    assert anyof.expectation == Expectation(MatchKind.ANY, ("012345", "x"))


def test_missing_variable_is_named_with_its_line(tmp_path: Path) -> None:
    """Without AMOUNT from anywhere, the error names it and the expect's line."""
    path = write(tmp_path, VARS_SCRIPT)
    with pytest.raises(ScriptError, match=r":5: expect: unknown variable \$\{AMOUNT\}"):
        load_script(path)


def test_env_file_values(tmp_path: Path) -> None:
    """KEY=VALUE lines; comments, blank lines, `export` and quotes handled."""
    env = tmp_path / "qa.env"
    env.write_text(
        "# secrets for the QA line\n\nPIN=135790\nexport WHO = 王 \nQUOTED='a b'\nEMPTY=\n"
        'EQUALS="x=y"\n',
        encoding="utf-8",
    )
    values = read_env_file(env)
    assert values == {"PIN": "135790", "WHO": "王", "QUOTED": "a b", "EMPTY": "", "EQUALS": "x=y"}
    script = load_script(write(tmp_path, VARS_SCRIPT), {**values, "AMOUNT": "一元"})
    assert script.steps[0].keys == "135790#"


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        ("PIN=1\nsecret 135790\n", 2, "expected KEY=VALUE"),
        ("\n# c\n=135790\n", 3, "expected KEY=VALUE"),
        ("PIN=1\nPIN=2\n", 2, "PIN is set twice"),
    ],
)
def test_bad_env_file_lines(tmp_path: Path, content: str, line: int, reason: str) -> None:
    """A bad line is reported by number, without echoing what may be a secret."""
    env = tmp_path / "qa.env"
    env.write_text(content, encoding="utf-8")
    with pytest.raises(ScriptError) as caught:
        read_env_file(env)
    assert str(caught.value).startswith(f"{env}:{line}: {reason}")
    assert "135790" not in str(caught.value)


def test_missing_env_file(tmp_path: Path) -> None:
    """A missing env file is named."""
    with pytest.raises(ScriptError, match=r"nothing\.env: cannot read"):
        read_env_file(tmp_path / "nothing.env")


def test_find_scripts_in_files_and_folders(tmp_path: Path) -> None:
    """Folders are searched recursively for .yaml/.yml, sorted; files are taken as given, once."""
    for name in ["b.yaml", "a.yml", "sub/c.yaml", "sub/deeper/d.yaml", "notes.txt", "e.json"]:
        write(tmp_path / "suite", "steps: [hangup]\n", name)
    extra = write(tmp_path, "steps: [hangup]\n", "extra.txt")
    suite = tmp_path / "suite"
    found = find_scripts([extra, suite, suite / "b.yaml"])
    assert found == [
        extra,
        suite / "a.yml",
        suite / "b.yaml",
        suite / "sub" / "c.yaml",
        suite / "sub" / "deeper" / "d.yaml",
    ]


def test_find_scripts_reports_every_missing_path(tmp_path: Path) -> None:
    """Missing paths and folders without scripts are all listed, one per line."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScriptError) as caught:
        find_scripts([tmp_path / "gone.yaml", tmp_path / "empty"])
    assert str(caught.value).splitlines() == [
        f"{tmp_path / 'gone.yaml'}: no such file or folder",
        f"{tmp_path / 'empty'}: no *.yaml or *.yml call scripts here",
    ]


def test_load_scripts_reports_every_broken_file(tmp_path: Path) -> None:
    """All files are parsed first; every broken one is listed with its line, in order."""
    write(tmp_path, "steps: [hangup]\n", "a_good.yaml")
    write(tmp_path, 'steps:\n  - pres: "1"\n', "b_bad.yaml")
    write(tmp_path, "name: x\n", "c_bad.yaml")
    write(tmp_path, HEAD + '  - press: "${PIN}#"\n', "d_bad.yaml")
    with pytest.raises(ScriptError) as caught:
        load_scripts([tmp_path])
    lines = str(caught.value).splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [
        f"{tmp_path / 'b_bad.yaml'}:2",
        f"{tmp_path / 'c_bad.yaml'}:1",
        f"{tmp_path / 'd_bad.yaml'}:5",
    ]
    assert [error.line for error in caught.value.errors] == [2, 1, 5]
    scripts = load_scripts([tmp_path / "a_good.yaml", tmp_path / "d_bad.yaml"], {"PIN": "1"})
    assert [s.name for s in scripts] == ["a_good", "t"]
