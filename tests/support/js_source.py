"""The string literals of a JavaScript source, for checks on the web app's modules: a small
tokenizer that knows comments, strings, template literals (with ``${…}`` inside) and regular
expression literals — enough for plain ES modules, not a parser."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Words after which a ``/`` starts a regular expression rather than a division.
_REGEX_AFTER_WORDS = {"return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw",
                      "yield", "await", "instanceof"}
_REGEX_AFTER_CHARS = set("(,=:[!&|?{};+-*%<>~^")


@dataclass(frozen=True)
class Literal:
    """A string or template literal: its text (a template's ``${…}`` parts as ``{}``), where it
    starts (an offset into the source) and its line."""

    text: str
    start: int
    end: int
    line: int
    template: bool


class _Scanner:
    def __init__(self, source: str) -> None:
        self.s = source
        self.found: list[Literal] = []

    def line(self, i: int) -> int:
        return self.s.count("\n", 0, i) + 1

    def scan(self, i: int, *, until_brace: bool = False) -> int:
        """Tokenize from *i*; with *until_brace*, stop after the ``}`` that closes a ``${``."""
        s, n = self.s, len(self.s)
        depth = 0
        prev = ""  # the last significant character, or a word
        while i < n:
            c = s[i]
            if c in " \t\r\n":
                i += 1
            elif s.startswith("//", i):
                j = s.find("\n", i)
                i = n if j < 0 else j
            elif s.startswith("/*", i):
                j = s.find("*/", i + 2)
                i = n if j < 0 else j + 2
            elif c in "\"'`":
                i = self._string(i, c)
                prev = "a"
            elif c == "/" and (prev == "" or prev in _REGEX_AFTER_CHARS or prev in _REGEX_AFTER_WORDS):
                i = self._regex(i)
                prev = "a"
            elif c.isalnum() or c in "_$":
                m = re.compile(r"[\w$]+").match(s, i)
                assert m is not None
                prev = m.group()
                i = m.end()
            else:
                if c == "{":
                    depth += 1
                elif c == "}":
                    if until_brace and depth == 0:
                        return i + 1
                    depth -= 1
                prev = c
                i += 1
        return i

    def _string(self, i: int, quote: str) -> int:
        """A '...', "..." or `...` literal from *i*; in a template each ${...} becomes {}."""
        template = quote == "`"
        j = i + 1
        out = []
        while j < len(self.s) and self.s[j] != quote:
            if self.s[j] == "\\":
                out.append(self.s[j:j + 2])
                j += 2
            elif template and self.s.startswith("${", j):
                out.append("{}")
                j = self.scan(j + 2, until_brace=True)
            else:
                out.append(self.s[j])
                j += 1
        self.found.append(Literal("".join(out), i, j + 1, self.line(i), template))
        return j + 1

    def _regex(self, i: int) -> int:
        j = i + 1
        in_class = False
        while j < len(self.s) and self.s[j] != "\n":
            c = self.s[j]
            if c == "\\":
                j += 2
                continue
            if c == "[":
                in_class = True
            elif c == "]":
                in_class = False
            elif c == "/" and not in_class:
                j += 1
                break
            j += 1
        while j < len(self.s) and (self.s[j].isalpha()):
            j += 1  # flags
        return j


def literals(source: str) -> list[Literal]:
    """Every string and template literal in *source*, in order of their end."""
    scanner = _Scanner(source)
    scanner.scan(0)
    return sorted(scanner.found, key=lambda lit: lit.start)
