"""The block around the cursor that a code action rewrites when nothing is selected."""

from __future__ import annotations

import pytest

from codellama_lsp.server.blocks import enclosing_block

PYTHON = """\
import os


class Greeter:
    @staticmethod
    def hello(name):
        message = f"hi {name}"

        return message

    def bye(
        self,
    ):
        def inner():
            return 1
        return inner()


x = 1
"""

JS = """\
const a = 1;

function outer(x) {
  if (x) {
    return 2;
  }

  return 3;
}

const f = (y) => {
  return y;
};
"""


@pytest.mark.parametrize(
    ("line", "block"),
    [
        (6, (4, 8)),  # inside a method: with its decorator
        (5, (4, 8)),  # on the def line
        (7, (4, 8)),  # a blank line inside the method
        (9, (3, 15)),  # the blank line between methods belongs to the class
        (14, (13, 14)),  # the innermost function
        (15, (10, 15)),  # a multi-line signature does not end the block
        (0, (0, 0)),  # top-level code: just the line
        (17, (17, 17)),  # a blank line between top-level blocks
        (18, (18, 18)),
        (99, (19, 19)),  # past the end of the file: the last line
    ],
)
def test_enclosing_block_in_python(line, block):
    assert enclosing_block(PYTHON, line) == block


@pytest.mark.parametrize(
    ("line", "block"),
    [
        (4, (2, 8)),  # inside an if: the function, not the if
        (6, (2, 8)),  # a blank line inside the function
        (8, (2, 8)),  # on the closing brace
        (11, (10, 12)),  # an arrow function
        (0, (0, 0)),
    ],
)
def test_enclosing_block_in_brace_languages(line, block):
    assert enclosing_block(JS, line) == block


def test_enclosing_block_with_end_keywords_and_tabs():
    ruby = "class A\n\tdef go\n\t\tendpoint = 1\n\t\trun(endpoint)\n\tend\nend\n"
    assert enclosing_block(ruby, 2) == (1, 4)
    lua = "local function f()\n  return 1\nend\n"
    assert enclosing_block(lua, 1) == (0, 2)


def test_enclosing_block_in_go_rust_and_c():
    go = "package main\n\nfunc (s *Server) Run() error {\n\tif s.ok {\n\t\treturn nil\n\t}\n\treturn errBad\n}\n"
    assert enclosing_block(go, 4) == (2, 7)
    rust = "impl Cart {\n    #[inline]\n    pub fn total(&self) -> u32 {\n        self.items.iter().sum()\n    }\n}\n"
    assert enclosing_block(rust, 3) == (1, 4)  # with its attribute
    c = 'int main(void) {\n    puts("hi");\n    return 0;\n}\n'
    assert enclosing_block(c, 2) == (0, 3)


def test_enclosing_block_of_an_empty_file():
    assert enclosing_block("", 0) == (0, 0)
