"""The web app's languages (``control_plane/web/static/js/i18n.js`` and ``i18n/<language>.js``):

* every language has exactly the keys English has, the same ``{placeholders}`` in each text, and
  the plural forms Intl.PluralRules asks of it;
* every key the modules use exists, and every key is used;
* t(), the choice of language and the formatting do what docs/web.md says (run in node);
* no English text is left in the modules outside the catalogue (a scan of their string literals).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.js_source import Literal, literals
from tests.support.util import require

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "control_plane" / "web" / "static"
JS = STATIC / "js"
CATALOGUE_DIR = JS / "i18n"
CHECK_SCRIPT = ROOT / "tests" / "js" / "i18n_check.mjs"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: A key as the catalogues write them: dotted lower-camel segments ("meeting.repeat.weekly").
KEY_SHAPE = re.compile(r"^[a-z][a-zA-Z0-9]*(\.[a-zA-Z0-9]+)+$")


def modules() -> list[Path]:
    """The web app's modules, the catalogues left out."""
    return sorted(p for p in JS.rglob("*.js") if CATALOGUE_DIR not in p.parents)


@cache
def languages(tmp: Path) -> dict[str, Any]:
    node = shutil.which("node")
    require(node is not None, "node (apt-get install nodejs)")
    copy = tmp / "i18n"
    shutil.copytree(CATALOGUE_DIR, copy / "i18n")
    shutil.copy(JS / "i18n.js", copy / "i18n.js")
    (copy / "package.json").write_text('{"type": "module"}')
    run = subprocess.run([str(node), str(CHECK_SCRIPT), str(copy)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return languages(tmp_path_factory.mktemp("languages"))


def placeholders(entry: str | dict[str, str]) -> set[str]:
    texts = entry.values() if isinstance(entry, dict) else [entry]
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


def test_every_language_has_the_same_keys_placeholders_and_its_plural_forms(found: dict[str, Any]) -> None:
    catalogues = found["catalogues"]
    files = sorted(p.stem for p in CATALOGUE_DIR.glob("*.js"))
    assert sorted(catalogues) == files, "each file in js/i18n/ is a language in CATALOGUES (i18n.js)"
    assert sorted(found["languages"]) == files, "each language has its own name in LANGUAGES (i18n.js)"
    english = catalogues["en"]
    assert len(english) > 100
    problems = []
    for code, catalogue in catalogues.items():
        for key in sorted(set(english) - set(catalogue)):
            problems.append(f"{code}: {key} is missing")
        for key in sorted(set(catalogue) - set(english)):
            problems.append(f"{code}: {key} exists in {code} only (not in en)")
        for key, entry in catalogue.items():
            if isinstance(entry, dict):
                wanted = set(found["plurals"][code])
                if set(entry) != wanted:
                    problems.append(f"{code}: {key} has the plural forms {sorted(entry)}, {code} needs {sorted(wanted)}")
            elif not isinstance(entry, str) or not entry.strip():
                problems.append(f"{code}: {key} is not a text")
            if key in english and placeholders(entry) != placeholders(english[key]):
                problems.append(f"{code}: {key} has the placeholders {sorted(placeholders(entry))}, "
                                f"en has {sorted(placeholders(english[key]))}")
    assert not problems, "\n".join(problems)


#: An API field's name ({name: "schedule.start"}) looks like a key and is not one.
_FIELD_NAME_BEFORE = re.compile(r"\b(?:name|field):\s*$")


def _key_literals() -> list[tuple[Path, Literal]]:
    out = []
    for path in modules():
        source = path.read_text()
        out += [(path, lit) for lit in literals(source) if not lit.template and KEY_SHAPE.match(lit.text)
                and not _FIELD_NAME_BEFORE.search(source[max(0, lit.start - 20):lit.start])]
    return out


def test_every_key_used_exists_and_every_key_is_used(found: dict[str, Any]) -> None:
    english = found["catalogues"]["en"]
    namespaces = {key.split(".")[0] for key in english}
    problems = []
    used = set()
    for path in modules():
        source = path.read_text()
        # t("key", …) with a template literal would hide the key from these checks.
        for m in re.finditer(r"\b(?:t|tParts)\(\s*`", source):
            problems.append(f"{path.relative_to(ROOT)}:{source.count(chr(10), 0, m.start()) + 1}: a key must be a plain string")
    for path, lit in _key_literals():
        # A literal shaped like a key in one of the catalogue's namespaces is a key (also in a table
        # of keys, e.g. {live: "meeting.state.live"}): it must exist.
        if lit.text.split(".")[0] not in namespaces:
            continue
        used.add(lit.text)
        if lit.text not in english:
            problems.append(f"{path.relative_to(ROOT)}:{lit.line}: {lit.text} is not in the catalogue")
    for key in sorted(set(english) - used):
        problems.append(f"{key} is in the catalogue but no module uses it")
    assert not problems, "\n".join(problems)


#: A local `t` (a track, a target) where t() is imported hides it: "t is not a function" at run time.
_LOCAL_T = re.compile(r"\b(?:const|let|var)\s+t\b|\bfor\s*\(\s*(?:const|let)\s+t\b|\(\s*t\s*(?:,[^)]*)?\)\s*=>|\bt\s*=>"
                      r"|\bfunction\s*\w*\s*\(\s*t\s*[,)]")


def test_no_module_hides_t_with_a_local_name() -> None:
    problems = []
    for path in modules():
        source = path.read_text()
        if not re.search(r"import\s*\{[^}]*\bt\b[^}]*\}\s*from\s*\"[./]*i18n\.js\"", source):
            continue
        for m in _LOCAL_T.finditer(source):
            problems.append(f"{path.relative_to(ROOT)}:{source.count(chr(10), 0, m.start()) + 1}: {m.group()}")
    assert not problems, "a local t where t() is imported:\n" + "\n".join(problems)


def test_the_language_is_chosen_switched_and_remembered_and_texts_are_filled_in(found: dict[str, Any]) -> None:
    c = found["cases"]
    assert (c["default"], c["defaultLang"]) == ("en", "en")          # an en-US browser: English
    assert c["browser de-AT,en"] == "de"
    assert c["browser fr-FR,de"] == "de"                              # the first supported one
    assert c["browser fr,it"] == "en"                                 # none supported: English
    assert c["browser en-GB,de"] == "en"
    assert c["browser "] == "en"
    assert (c["german"], c["germanLang"], c["germanLocale"]) == ("de", "de", "de-DE")
    assert c["repeatOne"] == "Jede Woche"
    assert c["repeatMany"] == "Alle 3 Wochen"
    assert c["number"] == "bis zu 1.500"                              # numbers in the language's way
    assert c["placeholder"] == "Gastgeber: Ada"
    assert c["missingParam"] == "Gastgeber: {owner}"
    assert c["weekday"] == "Mittwoch"
    assert c["date"] in ("01.03.2025", "1. März 2025")
    assert c["parts"] == ["Sie nehmen als ", "<node>", " teil."]
    assert (c["switched"], c["switchedLang"], c["stored"], c["heard"]) == ("en", "en", "en", ["en"])
    assert c["afterReload"] == "en"                                   # the stored choice beats the browser's
    assert c["english"] == "Every week"
    assert c["unknownKey"] == "no.such.key"


# -- no English left in the modules -------------------------------------------------------------------

#: A word of prose: capitalised ("Mute", "Sign in") or plain lower case, maybe with punctuation.
_CAPITAL = re.compile(r"^[(“\"']?(?:[AI]|[A-Z][a-z']+)[)”\"'.,:;!?…]*$")
_LOWER = re.compile(r"^[(“\"']?[a-z']+[)”\"'.,:;!?…]*$")
#: A token of only placeholders and punctuation ("{}", "({})", "–") says nothing either way.
_NEUTRAL = re.compile(r"^[^A-Za-z]*$")
#: Literals in these places are not shown to people: imports, CSS classes and selectors, the
#: console, comparisons (an event's key, an error's name), test ids, data attributes.
_NOT_SHOWN_BEFORE = re.compile(
    r"(\bfrom\s*|\bimport\s*\(\s*|\bclass:\s*|\bclass:\s*\[[^\]]*|className\s*=\s*|classList\.\w+\([^)]*"
    r"|querySelector(All)?\(\s*|closest\(\s*|matches\(\s*|console\.\w+\(\s*|[!=]==?\s*|\bcase\s+|testid:\s*"
    r"|dataset\.\w+\s*=\s*)$")
#: Literals in these places are shown: attributes people read, text set on a node, notices.
_SHOWN_BEFORE = re.compile(
    r"(\b(?:title|placeholder|alt|label)|\"aria-(?:label|description|valuetext|roledescription)\"):\s*$"
    r"|\.(?:textContent|innerText|title|placeholder|ariaLabel|alt)\s*=\s*$"
    r"|setAttribute\(\s*\"(?:aria-label|title|placeholder|alt)\"\s*,\s*$|\b(?:toast|announce|alert|confirm)\(\s*$")
#: A line may say why a literal that looks like text is not: `// i18n-ok: <why>`.
_OK = "i18n-ok"


def prose(text: str, template: bool = False) -> bool:
    """Whether a literal reads like words for people (not a class list, code, key or URL): its
    words are words of prose (in a sentence of four or more, three in four are: "WebRTC" or
    "end-to-end" may be among them), and there is a capitalised one, or two lower-case ones, or
    (in a template, beside a `${…}`) one."""
    words = [w for w in PLACEHOLDER.sub("{}", text).split() if not _NEUTRAL.match(w)]
    plain = [w for w in words if _CAPITAL.match(w) or _LOWER.match(w)]
    if not words or (len(plain) * 4 < len(words) * 3 if len(words) >= 4 else len(plain) < len(words)):
        return False
    capital = sum(bool(_CAPITAL.match(w)) for w in plain)
    return capital >= 1 or len(plain) >= 2 or template and "{}" in text


def english_left(path: Path) -> list[str]:
    return english_left_in(path.read_text(), path)


def english_left_in(source: str, path: Path) -> list[str]:
    lines = source.splitlines()
    out = []
    for lit in literals(source):
        line = lines[lit.line - 1]
        before = source[max(0, lit.start - 80):lit.start]
        if _OK in line or _NOT_SHOWN_BEFORE.search(before) or KEY_SHAPE.match(lit.text):
            continue
        if prose(lit.text, lit.template) or _SHOWN_BEFORE.search(before) and re.search(r"[A-Za-z]", lit.text):
            out.append(f"{path.relative_to(ROOT)}:{lit.line}: {source[lit.start:lit.end]}")
    return out


def test_the_scan_finds_english_and_leaves_code_alone() -> None:
    for text in ("Mute", "Sign in", "Join now", "none found", "private to you", "Delete this meeting? ", "Escape",
                 "You are in the lobby as {}. A host will let you in shortly.", "Disconnected ({})",
                 "This browser lacks encoded transforms for WebRTC (which needs HTTPS)."):
        assert prose(text), text
    for text in ("{} is now {}", "{} (you)", "speaker {}", "{} min {} s"):
        assert prose(text, template=True), text
    for text in ("btn btn--primary", "btn btn--small btn--quiet side-close", "meeting.repeat.weekly", "/api/v1/meetings", "NotAllowedError", "{} %", "",
                 "—", "×", "GET", "application/json", "{}: {}", "X-CSRF-Token", "MO", "cc.language", "none"):
        assert not prose(text), text
    for text in ("camera:{}", "tile--{}", "/m/{}", "{}-confirm", "btn{} btn--danger"):
        assert not prose(text, template=True), text
    # Where a literal stands decides too: a class list or a comparison is code, a title is text.
    sample = '''h("p", { class: "card narrow" }, "Hello");\nif (event.key === "Escape") x.title = "none";\n'''
    path = ROOT / "build" / "sample.js"
    hits = english_left_in(sample, path)
    assert [hit.split(": ", 1)[1] for hit in hits] == ['"Hello"', '"none"']


def test_no_english_text_is_left_in_the_modules() -> None:
    left = [hit for path in modules() for hit in english_left(path)]
    assert not left, ("texts people see belong in the catalogue (js/i18n/en.js and the other languages, "
                      "through t()); a literal that is not one can say so with `// i18n-ok: <why>` on its line:\n"
                      + "\n".join(left))


def test_the_shell_has_no_text_but_a_notice_in_every_language() -> None:
    html = (STATIC / "app.html").read_text()
    body = re.sub(r"<!--.*?-->", "", html.split("<body>", 1)[1], flags=re.S)
    notice = re.search(r"<noscript>(.*?)</noscript>", body, re.S)
    assert notice is not None
    langs = re.findall(r'<p lang="(\w+)">[^<]+</p>', notice.group(1))
    assert sorted(langs) == sorted(p.stem for p in CATALOGUE_DIR.glob("*.js"))
    rest = re.sub(r"<[^>]+>", " ", body.replace(notice.group(0), ""))
    assert not rest.strip(), f"text in app.html outside the catalogue: {rest.strip()!r}"
    assert not re.search(r'\b(?:title|aria-label|placeholder|alt)="[^"]*[A-Za-z]', body)
