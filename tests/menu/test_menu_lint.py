"""`menu check`: each lint rule on a small broken menu, with its file, line and fix hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.config import PROJECT_ROOT
from ivr.core.model import Key
from ivr.menu.announce import announces
from ivr.menu.load import check_menu, load_menu
from ivr.menu.source import Problem, Severity
from tests.servers import cli_env, run_cli, sqlite_url

PROMPTS = PROJECT_ROOT / "prompts"
TINY = f"""\
name: tiny
language: zh-CN
prompts:
  zh-CN: [{PROMPTS / "zh-CN.yaml"}, tiny-zh.yaml]
  en-US: [{PROMPTS / "en-US.yaml"}, tiny-en.yaml]
start: welcome
identify: ask_id
nodes:
  welcome: {{type: say, prompt: welcome, next: main}}
  main:
    type: menu
    prompt: tiny_menu
    options:
      "1": balance
      "0": agent
      "*": repeat
  balance: {{type: service, service: balance, requires_identity: true, next: main}}
  ask_id: {{type: input, field: id, prompt: ask_id, next: ask_pin}}
  ask_pin: {{type: input, field: pin, prompt: ask_pin}}
  agent: {{type: agent}}
"""
TINY_ZH = "prompts:\n  tiny_menu: 余额查询请按一；人工服务请按零；重听请按星号键。\n"
TINY_EN = (
    "prompts:\n  tiny_menu: For your balance, press one. For an agent, press zero."
    " To hear this again, press the star key.\n"
)
SUB = """\
  sub:
    type: menu
    prompt: tiny_menu
    options:
      "1": balance
      "0": agent
      "*": repeat
      "#": {up}
"""


def write_tiny(folder: Path, menu: str = TINY, zh: str = TINY_ZH, en: str = TINY_EN) -> Path:
    """The tiny menu and its two prompt files in `folder`; the menu file's path."""
    (folder / "tiny-zh.yaml").write_text(zh, encoding="utf-8")
    (folder / "tiny-en.yaml").write_text(en, encoding="utf-8")
    path = folder / "tiny.yaml"
    path.write_text(menu, encoding="utf-8")
    return path


def line_with(text: str, fragment: str) -> int:
    """The 1-based line of the first line holding `fragment`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_the_tiny_menu_is_clean(tmp_path: Path) -> None:
    """The fixture every case breaks has no problem at all: each case fails by its edit."""
    checked = check_menu(write_tiny(tmp_path))
    assert checked.problems == [] and checked.menu is not None


@pytest.mark.parametrize("menu_file", ["12333.yaml", "12393.yaml"])
def test_shipped_menus_are_clean(menu_file: str) -> None:
    """Both shipped hotlines pass every rule, warnings included."""
    assert check_menu(PROMPTS / menu_file).problems == []


def _sub_menu(up: str) -> tuple[str, str, str]:
    """The tiny menu with a sub-menu on 2 whose # leads to `up`, and prompts announcing 2."""
    menu = TINY.replace('      "0": agent\n', '      "2": sub\n      "0": agent\n', 1) + SUB.format(
        up=up
    )
    zh = TINY_ZH.replace("请按一；", "请按一；下级菜单请按二；返回请按井号键；")
    en = TINY_EN.replace("press one.", "press one. For more, press two. To go back, press pound.")
    return menu, zh, en


def _statement(options: str, zh_keys: str = "更早的明细请按一；返回请按井号键；") -> tuple:
    """The tiny menu with a paged statement on 2 (its `options` lines given), announced."""
    node = (
        "  statement:\n    type: service\n    service: statement\n"
        "    requires_identity: true\n    prompt: pages\n    options:  # pages\n" + options
    )
    menu = TINY.replace('      "0": agent\n', '      "2": statement\n      "0": agent\n', 1)
    zh = TINY_ZH.replace("请按一；", "请按一；明细请按二；") + f"  pages: {zh_keys}\n"
    en = TINY_EN.replace("press one.", "press one. For your statement, press two.") + (
        "  pages: For more, press one. To go back, press the pound key.\n"
    )
    return menu + node, zh, en


# (case, edit of (menu, zh, en), rule, severity, file, line fragment, key, message, hint)
CASES = [
    ("a statement that only pages",
     lambda m, z, e: _statement('      "1": more\n      "*": repeat\n'),
     "dead-end", "error", "tiny.yaml", "options:  # pages", "nodes.statement.options",
     "the caller cannot leave it", "add an option"),
    ("a statement whose # does not go up",
     lambda m, z, e: _statement('      "1": more\n      "#": agent\n'),
     "reserved-key", "error", "tiny.yaml", '"#": agent', "nodes.statement.options['#']",
     "the level above is one of main", "point # at the menu above"),
    ("a statement's key its prompt never says",
     lambda m, z, e: _statement('      "1": more\n      "#": main\n', "返回请按井号键。"),
     "unannounced-key", "warning", "tiny-zh.yaml", "pages:", "prompts.pages",
     "option 1 of nodes.statement is never announced in zh-CN", 'say "按一"'),
    ("unknown option target",
     lambda m, z, e: (m.replace('"1": balance', '"1": balanse', 1), z, e),
     "unknown-target", "error", "tiny.yaml", '"1": balanse', "nodes.main.options['1']",
     "unknown target 'balanse'", "did you mean 'balance'?"),
    ("unknown next",
     lambda m, z, e: (m.replace("requires_identity: true, next: main", "requires_identity: true,"
                                " next: mian"), z, e),
     "unknown-target", "error", "tiny.yaml", "balance: {", "nodes.balance.next",
     "unknown target 'mian'", "did you mean 'main'?"),
    ("unknown start", lambda m, z, e: (m.replace("start: welcome", "start: hello"), z, e),
     "unknown-target", "error", "tiny.yaml", "start: hello", "start", "'hello'", "use one of"),
    ("unreachable node", lambda m, z, e: (m + "  orphan: {type: agent}\n", z, e),
     "unreachable", "warning", "tiny.yaml", "orphan:", "nodes.orphan",
     "no call can reach this node", "link it from a menu option"),
    ("say node without next",
     lambda m, z, e: (m.replace("prompt: welcome, next: main", "prompt: welcome"), z, e),
     "dead-end", "error", "tiny.yaml", "welcome: {", "nodes.welcome.next",
     "a say node needs `next`", "name the node the call goes on to"),
    ("menu that only repeats",
     lambda m, z, e: (m.replace('      "1": balance\n      "0": agent\n', "", 1), z, e),
     "dead-end", "error", "tiny.yaml", "options:", "nodes.main.options",
     "the caller cannot leave it", "add an option"),
    ("say nodes in a loop",
     lambda m, z, e: (m.replace('      "0": agent\n', '      "2": a\n      "0": agent\n', 1)
                      + "  a: {type: say, prompt: welcome, next: b}\n"
                      + "  b: {type: say, prompt: welcome, next: a}\n", z, e),
     "dead-end", "error", "tiny.yaml", "  a: {", "nodes.a.next",
     "loops back to itself without waiting for a key", "end the `next` chain"),
    ("the agent before any menu",
     lambda m, z, e: (m.replace("prompt: welcome, next: main", "prompt: welcome, next: agent"),
                      z, e),
     "dead-end", "error", "tiny.yaml", "start: welcome", "start",
     "the call reaches the agent before any menu", "put a menu between"),
    ("the identity check first",
     lambda m, z, e: (m.replace("prompt: welcome, next: main", "prompt: welcome, next: ask_id"),
                      z, e),
     "dead-end", "error", "tiny.yaml", "start: welcome", "start",
     "the call reaches the identity check before any menu", "put a menu first"),
    ("an identity check that needs identity",
     lambda m, z, e: (m.replace("field: pin, prompt: ask_pin}",
                                "field: pin, prompt: ask_pin, requires_identity: true}"), z, e),
     "menu", "error", "tiny.yaml", "identify: ask_id", "identify",
     "the identity check cannot itself require identity", "drop requires_identity"),
    ("a misspelt prompt name",
     lambda m, z, e: (m.replace("prompt: tiny_menu", "prompt: tiny_mneu"), z, e),
     "missing-prompt", "error", "tiny.yaml", "prompt: tiny_mneu", "nodes.main.prompt",
     "no prompt file has 'tiny_mneu'", "did you mean 'tiny_menu'?"),
    ("duplicate option key",
     lambda m, z, e: (m.replace('      "0": agent\n', '      "0": agent\n      "0": agent\n', 1),
                      z, e),
     "duplicate-key", "error", "tiny.yaml", None, "nodes.main.options['0']", "duplicate key '0'",
     "keep only one"),
    ("duplicate prompt",
     lambda m, z, e: (m, z + "  tiny_menu: 余额查询请按一；人工服务请按零；重听请按星号键。\n", e),
     "duplicate-key", "error", "tiny-zh.yaml", None, "prompts.tiny_menu",
     "duplicate key 'tiny_menu'", "keep only one"),
    ("* not repeating", lambda m, z, e: (m.replace('"*": repeat', '"*": welcome', 1), z, e),
     "reserved-key", "error", "tiny.yaml", '"*": welcome', "nodes.main.options['*']",
     "* repeats the menu", 'write `"*": repeat`'),
    ("0 not an agent", lambda m, z, e: (m.replace('"0": agent', '"0": balance', 1), z, e),
     "reserved-key", "error", "tiny.yaml", '"0": balance', "nodes.main.options['0']",
     "0 is for a human agent", "point 0 at an agent node"),
    ("# on the top menu",
     lambda m, z, e: (m.replace('"*": repeat', '"*": repeat\n      "#": welcome', 1),
                      z.replace("。\n", "；返回请按井号键。\n"), e.replace(
                          "star key.", "star key. To go back, press the pound key.")),
     "reserved-key", "error", "tiny.yaml", '"#": welcome', "nodes.main.options['#']",
     "it is a top menu", "point # at the menu above"),
    ("# not going up", lambda m, z, e: _sub_menu("agent"),
     "reserved-key", "error", "tiny.yaml", '"#": agent', "nodes.sub.options['#']",
     "the level above is one of main", "point # at the menu above"),
    ("node prompt missing in English",
     lambda m, z, e: (m, z, "prompts: {}\n"),
     "missing-prompt", "error", "tiny-en.yaml", "prompts:", "prompts.tiny_menu",
     "missing in en-US (nodes.main.prompt in tiny.yaml speaks it)", "add `tiny_menu:`"),
    ("prompt in one language only",
     lambda m, z, e: (m, z + "  holiday: 今天放假。\n", e),
     "missing-prompt", "error", "tiny-en.yaml", "prompts:", "prompts.holiday",
     "missing in en-US (another language of the menu has it)", "with its en-US text"),
    ("option never announced",
     lambda m, z, e: (m, z.replace("人工服务请按零；", ""), e),
     "unannounced-key", "warning", "tiny-zh.yaml", "tiny_menu:", "prompts.tiny_menu",
     "option 0 of nodes.main is never announced in zh-CN", 'say "按零"'),
    ("option never announced in English",
     lambda m, z, e: (m, z, e.replace(" For an agent, press zero.", "")),
     "unannounced-key", "warning", "tiny-en.yaml", "tiny_menu:", "prompts.tiny_menu",
     "option 0 of nodes.main is never announced in en-US", 'say "press zero"'),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edit", "rule", "severity", "file", "at", "key", "message", "hint"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_each_rule_names_file_line_and_fix(
    tmp_path: Path, edit, rule, severity, file, at, key, message, hint
) -> None:
    menu, zh, en = edit(TINY, TINY_ZH, TINY_EN)
    path = write_tiny(tmp_path, menu, zh, en)
    text = (tmp_path / file).read_text(encoding="utf-8")

    found = [p for p in check_menu(path).problems if p.rule == rule]

    assert len(found) == 1, check_menu(path).problems
    problem = found[0]
    assert problem.severity == Severity(severity)
    assert problem.file == (tmp_path / file).resolve()
    if at is None:  # a duplicate: the line of the second one
        lines = text.splitlines()
        dup = next(n for n in range(len(lines), 0, -1) if lines[n - 1] in lines[: n - 1])
        assert problem.line == dup
    else:
        assert problem.line == line_with(text, at)
    assert problem.key == key
    assert message in problem.message and hint in problem.hint
    assert str(problem).startswith(f"{problem.file}:{problem.line}: {key}: ")


def test_hash_back_to_the_menu_above_is_fine(tmp_path: Path) -> None:
    """The convention kept: # in a sub-menu leads to the menu that leads down to it."""
    assert check_menu(write_tiny(tmp_path, *_sub_menu("main"))).problems == []


def test_a_misspelt_prompt_is_one_error_not_a_warning_per_key(tmp_path: Path) -> None:
    menu = TINY.replace("prompt: tiny_menu", "prompt: tiny_mneu")
    problems = check_menu(write_tiny(tmp_path, menu)).problems
    assert [(p.rule, p.key) for p in problems] == [("missing-prompt", "nodes.main.prompt")]


def test_hash_to_a_menu_two_levels_up_is_a_warning(tmp_path: Path) -> None:
    """# to the main menu from a third level ("返回主菜单") works, but is not one level back."""
    menu, zh, en = _sub_menu("main")
    menu = menu.replace('      "#": main\n', '      "2": deep\n      "#": main\n', 1) + (
        '  deep:\n    type: menu\n    prompt: tiny_menu\n    options: {"1": balance,'
        ' "0": agent, "*": repeat, "#": main}\n'
    )
    problems = check_menu(write_tiny(tmp_path, menu, zh, en)).problems
    hashes = [p for p in problems if p.rule == "reserved-key"]
    assert [(p.key, p.severity) for p in hashes] == [("nodes.deep.options['#']", Severity.WARNING)]
    assert "the level above is one of sub" in hashes[0].message


def test_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    """YAML's `<<` merge shares a node's common keys: nothing in it is written twice."""
    menu = TINY.replace(
        "  balance: {type: service, service: balance, requires_identity: true, next: main}\n",
        "  balance: &service {type: service, service: balance, requires_identity: true,"
        " next: main}\n  family: {<<: *service, service: family}\n",
    ).replace('      "0": agent\n', '      "2": family\n      "0": agent\n', 1)
    zh = TINY_ZH.replace("请按一；", "请按一；家庭共济请按二；")
    en = TINY_EN.replace("press one.", "press one. For your family, press two.")
    checked = check_menu(write_tiny(tmp_path, menu, zh, en))
    assert checked.problems == [] and checked.menu is not None
    assert checked.menu.nodes["family"].service == "family"


def test_zero_through_a_message_to_the_agent_is_fine(tmp_path: Path) -> None:
    """0 may say something first ("正在为您转接") on its way to the agent."""
    menu = TINY.replace('"0": agent', '"0": hold', 1) + (
        "  hold: {type: say, prompt: welcome, next: agent}\n"
    )
    assert check_menu(write_tiny(tmp_path, menu)).problems == []


def test_hash_back_to_either_of_two_menus_above_is_fine(tmp_path: Path) -> None:
    """A sub-menu reached from two menus may go back to either of them with #."""
    menu, zh, en = _sub_menu("other")
    menu = menu.replace('      "2": sub\n', '      "2": sub\n      "3": other\n', 1) + (
        '  other:\n    type: menu\n    prompt: tiny_menu\n    options: {"1": sub, "0": agent,'
        ' "*": repeat, "#": main}\n'
    )
    zh = zh.replace("下级菜单请按二；", "下级菜单请按二；其他请按三；")
    en = en.replace("press two.", "press two. For others, press three.")
    problems = check_menu(write_tiny(tmp_path, menu, zh, en)).problems
    assert [p for p in problems if p.rule == "reserved-key"] == []


ODD = [
    ("a list as the language", "language: [zh-CN]\nnodes: {}\n", "language"),
    ("an alias that contains itself", "x: &a [*a]\nnodes: {}\n", "recursive alias"),
    (
        "a number as a node's next",
        f"prompts: {{zh-CN: {PROMPTS / 'zh-CN.yaml'}}}\nstart: a\nidentify: a\n"
        "nodes:\n  a: {type: say, prompt: p, next: 5}\n",
        "nodes.a.next: expected the name of a node",
    ),
    ("an empty file", "", "expected a mapping at the top level"),
    ("a list at the top", "- a\n- b\n", "expected a mapping at the top level"),
    ("prompt files as numbers", "prompts: {zh-CN: [1, 2]}\nnodes: {}\n", "prompts.zh-CN"),
]


@pytest.mark.parametrize(("text", "said"), [pytest.param(t, s, id=n) for n, t, s in ODD])
def test_odd_yaml_is_a_problem_never_a_crash(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(text, encoding="utf-8")
    checked = check_menu(path)
    assert checked.menu is None and len(checked.errors) == 1
    assert said in str(checked.errors[0]) and str(checked.errors[0]).startswith(str(path))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Three mistakes, three problems: an operator fixes them in one go, not one per run."""
    menu = (
        TINY.replace('"1": balance', '"1": balanse', 1).replace('"*": repeat', '"*": welcome', 1)
        + "  orphan: {type: agent}\n"
    )
    checked = check_menu(write_tiny(tmp_path, menu))
    found = [(p.rule, p.key) for p in checked.problems]
    assert found == [
        ("unknown-target", "nodes.main.options['1']"),
        ("reserved-key", "nodes.main.options['*']"),
        ("unreachable", "nodes.balance"),  # only the misspelt option led there
        ("unreachable", "nodes.orphan"),
    ]
    with pytest.raises(Exception) as caught:
        load_menu(tmp_path / "tiny.yaml")
    message = str(caught.value)
    assert "balanse" in message and "* repeats the menu" in message
    assert "no call can reach" not in message  # a warning does not stop the hotline


def test_a_warning_does_not_stop_the_menu(tmp_path: Path) -> None:
    menu = load_menu(write_tiny(tmp_path, TINY + "  orphan: {type: agent}\n"))
    assert "orphan" in menu.nodes


ANNOUNCED = [
    ("余额查询请按一。", Key.ONE, True),
    ("余额查询请按 1。", Key.ONE, True),
    ("查询请按幺。", Key.ONE, True),
    ("人工服务请按两", Key.TWO, True),
    ("重听请按星号键。", Key.STAR, True),
    ("返回请按#号键。", Key.HASH, True),
    ("返回请按井号键。", Key.HASH, True),
    ("For your balance, press one.", Key.ONE, True),
    ("Press 9 for English.", Key.NINE, True),
    ("To hear this again, press the star key.", Key.STAR, True),
    ("To go back, press the pound key.", Key.HASH, True),
    ("To go back, press hash.", Key.HASH, True),
    ("For an agent, press zero.", Key.ZERO, True),
    ("请按数字一", Key.ONE, True),
    ("余额请按一，明细请按二", Key.TWO, True),
    ("press one or two", Key.TWO, True),
    ("Press one for your balance, two for your bindings.", Key.TWO, True),
    ("请按一下井号键", Key.ONE, False),
    ("请按一下井号键", Key.HASH, True),
    ("Press one for the 2026 report.", Key.TWO, False),
    ("按照一定比例扣款", Key.ONE, False),
    ("请按2查询近12个月", Key.ONE, False),
    ("请按2查询近12个月", Key.TWO, True),
    ("请拨1转人工", Key.ONE, True),
    ("To hear it again, select 1.", Key.ONE, True),
    ("余额查询请按一。", Key.TWO, False),
    ("Press nineteen.", Key.NINE, False),
    ("For an agent, say zero.", Key.ZERO, False),
    ("第一项", Key.ONE, False),
]


@pytest.mark.parametrize(("text", "key", "expected"), ANNOUNCED)
def test_announcement_is_recognised(text: str, key: Key, expected: bool) -> None:
    assert announces(text, key) is expected


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path):
    """Run `python run_ivr.py ARGS` with IVR_MENU set (to the tiny menu unless given)."""

    def run(*args: str, menu: Path | None = None):
        env = cli_env(tmp_path, sqlite_url(tmp_path / "unused.db"),
                      IVR_MENU=str(menu or tmp_path / "tiny.yaml"))  # fmt: skip
        return run_cli(list(args), env)

    return run


def test_check_exits_1_listing_errors_with_their_fix(tmp_path: Path, cli) -> None:
    write_tiny(tmp_path, TINY.replace('"1": balance', '"1": balanse', 1))
    done = cli("menu", "check")
    assert done.returncode == 1
    line = line_with((tmp_path / "tiny.yaml").read_text(encoding="utf-8"), "balanse")
    assert f"tiny.yaml:{line}: error [unknown-target] nodes.main.options['1']:" in done.stdout
    assert "fix: did you mean 'balance'?" in done.stdout
    assert "1 error, 1 warning in" in done.stdout  # balance is unreachable now


def test_check_passes_with_warnings_unless_strict(tmp_path: Path, cli) -> None:
    path = write_tiny(tmp_path, TINY + "  orphan: {type: agent}\n")
    ok = cli("menu", "check", str(path))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "warning [unreachable] nodes.orphan" in ok.stdout
    assert cli("menu", "check", "--strict", str(path)).returncode == 1


def test_check_json_lists_every_problem(tmp_path: Path, cli) -> None:
    write_tiny(tmp_path, TINY.replace('"0": agent', '"0": balance', 1))
    done = cli("menu", "check", "--json")
    rows = json.loads(done.stdout)
    assert done.returncode == 1
    assert [(r["rule"], r["severity"], r["key"]) for r in rows] == [
        ("reserved-key", "error", "nodes.main.options['0']"),
        ("unreachable", "warning", "nodes.agent"),
    ]
    assert all(r["line"] and r["hint"] and r["file"].endswith("tiny.yaml") for r in rows)


def test_check_names_a_file_that_is_not_yaml(tmp_path: Path, cli) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [unclosed\n", encoding="utf-8")
    done = cli("menu", "check", str(bad))
    assert done.returncode == 1
    assert "bad.yaml:" in done.stdout and "not valid YAML" in done.stdout


def test_serve_refuses_a_broken_menu(tmp_path: Path, cli) -> None:
    """The same check at start-up: the server never starts on a broken menu."""
    write_tiny(tmp_path, TINY.replace('"*": repeat', '"*": welcome', 1))
    done = cli("serve", "--port", "1")
    assert done.returncode != 0
    assert "nodes.main.options['*']" in done.stderr and "* repeats the menu" in done.stderr
    assert "Fix: write" in done.stderr
    assert "Serving" not in done.stdout and "Listening" not in done.stderr


def test_show_prints_the_tree(cli) -> None:
    done = cli("menu", "show", menu=PROMPTS / "12393.yaml")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for fragment in (
        "12393 医疗保障服务热线",
        "welcome (say)",
        "main (menu)",
        "1 → balance",
        "2 → family",
        "9 → agent",
        "8 → language",
        "3 → statement",
        "1 → more (the next, older page)",
        "identity check",
        "ask_pin",
    ):
        assert fragment in out, out  # fmt: skip
    assert out.index("main (menu)") < out.index("1 → balance") < out.index("identity check")
    assert out.index("3 → statement") < out.index("1 → more") < out.index("# → main")


def test_show_refuses_a_broken_menu(tmp_path: Path, cli) -> None:
    write_tiny(tmp_path, TINY.replace("start: welcome", "start: hello"))
    done = cli("menu", "show")
    assert done.returncode == 1
    assert "start: error [unknown-target]" in done.stderr.replace("\n", " ") or (
        "unknown target 'hello'" in done.stderr
    )


def test_problem_text_without_a_line() -> None:
    problem = Problem(Path("/x/m.yaml"), None, "", "cannot read", "check the file name")
    assert str(problem) == "/x/m.yaml: cannot read Fix: check the file name"
