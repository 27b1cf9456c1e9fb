"""Text to expression tree, with a real grammar (lark, LALR).

User text is never passed to ``eval``, ``exec``, ``sympify`` or
``parse_expr``: it is tokenized and parsed by the grammar below, and the
tree is built bottom-up while parsing, so deep nesting cannot overflow the
stack. Errors carry the column and a caret.

>>> parse("x.T @ W")
Call(op='matmul', args=(Call(op='transpose', args=(Var(name='x'),)), Var(name='W')))
>>> parse("x +* y")
Traceback (most recent call last):
  ...
gradcheck.errors.ParseError: unexpected '*' at column 4
  x +* y
     ^
hint: expected a number, a name, '(', '[', '+' or '-'
"""

from __future__ import annotations

import dataclasses
import functools
import re
from fractions import Fraction
from typing import Any, cast

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from gradcheck.errors import ParseError, suggest
from gradcheck.language import ops
from gradcheck.language.tree import Call, Matrix, Node, Num, Var
from gradcheck.limits import DEPTH, DEPTH_CAP, LENGTH, Limits, current, hint

__all__ = ["GRAMMAR", "MAX_DEPTH", "MAX_LENGTH", "NAME_PATTERN", "definition", "parse"]

MAX_LENGTH = LENGTH  # characters of input, by default (max_length=, --max-length)
MAX_DEPTH = DEPTH  # nesting of the tree, by default (max_depth=, --max-depth)
MAX_EXPONENT = 300  # largest decimal exponent a number literal may have
MAX_DIGITS = 400  # most digits a number literal may have

NAME_PATTERN = r"(?!ᵀ)[^\W\d](?:(?!ᵀ)\w)*"  # a name: letters, digits, _; never ᵀ

GRAMMAR = r"""
?start: sum

?sum: product
    | sum PLUS product          -> add
    | sum MINUS product         -> sub

?product: unary
    | product STAR unary        -> mul
    | product HADAMARD unary    -> mul
    | product SLASH unary       -> div
    | product AT unary          -> matmul
    | product DOT unary         -> dot
    | product power             -> juxtapose

?unary: power
    | MINUS unary               -> neg
    | PLUS unary                -> pos

?power: postfix
    | postfix POW unary         -> pow

?postfix: atom
    | postfix TRANSPOSE         -> transpose

?atom: NUMBER                   -> number
    | NAME                      -> name
    | NAME LPAR [sum (COMMA sum)*] RPAR -> call
    | LPAR sum RPAR             -> group
    | LSQB sum (COMMA sum)* RSQB -> matrix

PLUS: "+"
MINUS: "-" | "−"
STAR: "*"
HADAMARD: "⊙" | "∘"
SLASH: "/"
AT: "@"
DOT: "·" | "×" | "⋅"
POW: "**" | "^"
TRANSPOSE: ".T" | "ᵀ"
LPAR: "("
RPAR: ")"
LSQB: "["
RSQB: "]"
COMMA: ","
NUMBER: /(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?/
NAME: /{NAME}/

%ignore /[ \t\r\n]+/
""".replace("{NAME}", NAME_PATTERN)

# How terminals are named in messages.
_TERMINAL_TEXT = {
    "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "HADAMARD": "'⊙'", "SLASH": "'/'",
    "AT": "'@'", "DOT": "'·'", "POW": "'**'", "TRANSPOSE": "'.T'", "LPAR": "'('",
    "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "COMMA": "','", "NUMBER": "a number",
    "NAME": "a name", "$END": "the end of the expression",
}
_EXPECT_ORDER = ["NUMBER", "NAME", "LPAR", "LSQB", "RPAR", "RSQB", "COMMA", "PLUS", "MINUS",
                 "STAR", "SLASH", "AT", "DOT", "POW", "TRANSPOSE", "HADAMARD", "$END"]


def _span(*parts: Any) -> tuple[int, int]:
    starts, ends = [], []
    for p in parts:
        if isinstance(p, Token):
            starts.append(int(p.start_pos or 0))
            ends.append(int(p.end_pos or 0))
        elif p is not None:
            starts.append(p.span[0])
            ends.append(p.span[1])
    return min(starts), max(ends)


def _depth(*nodes: Node) -> int:
    return 1 + max((n.depth for n in nodes), default=0)


class _Build(Transformer[Token, Node]):
    """Builds tree nodes as the LALR parser reduces (no recursion)."""

    text = None  # errors raised while parsing get the text in parse()

    def _call(self, op: str, args: tuple[Node, ...], span: tuple[int, int], at: int) -> Call:
        node = Call(op, args, span=span, depth=_depth(*args), at=at)
        _check_depth(node, span[0])
        return node

    def _binary(self, name: str, items: list[Any]) -> Call:
        left, tok, right = items
        return self._call(name, (left, right), _span(left, right), tok.start_pos)

    def add(self, items: list[Any]) -> Call:
        return self._binary("add", items)

    def sub(self, items: list[Any]) -> Call:
        return self._binary("sub", items)

    def mul(self, items: list[Any]) -> Call:
        return self._binary("mul", items)

    def div(self, items: list[Any]) -> Call:
        return self._binary("div", items)

    def matmul(self, items: list[Any]) -> Call:
        return self._binary("matmul", items)

    def dot(self, items: list[Any]) -> Call:
        return self._binary("dot", items)

    def pow(self, items: list[Any]) -> Call:
        return self._binary("pow", items)

    def juxtapose(self, items: list[Any]) -> Call:
        left, right = items
        if isinstance(right, Matrix):
            # z[0,0] reads like indexing; as a product it would pass silently.
            raise ParseError(
                "a matrix literal right after an operand: indexing such as z[0,0] is not "
                "part of the language", column=right.span[0] + 1,
                detail="written side by side, it would be the product of the operand and "
                       "the literal",
                hint="write the product with * or @ (z * [[0, 1]]); for one entry, check "
                     "sum(z * E) with E a literal that is 1 at that entry")
        return self._call("dot", (left, right), _span(left, right), right.span[0])

    def neg(self, items: list[Any]) -> Call:
        tok, a = items
        return self._call("neg", (a,), _span(tok, a), tok.start_pos)

    def pos(self, items: list[Any]) -> Node:
        return cast(Node, items[1])  # unary plus changes nothing

    def transpose(self, items: list[Any]) -> Call:
        a, tok = items
        return self._call("transpose", (a,), _span(a, tok), tok.start_pos)

    def group(self, items: list[Any]) -> Node:
        lpar, inner, rpar = items
        # Keep the tree, widen the span to the parentheses.
        return cast(Node, dataclasses.replace(inner, span=_span(lpar, rpar)))

    def number(self, items: list[Any]) -> Num:
        (tok,) = items
        mantissa, _, exponent = tok.lower().partition("e")
        whole, _, fraction = mantissa.partition(".")
        digits = len(whole) + len(fraction)
        if digits > MAX_DIGITS:
            raise ParseError(
                f"number with {digits} digits", text=self.text, column=tok.start_pos + 1,
                width=len(tok), hint=f"write at most {MAX_DIGITS} digits (float64 keeps 17), "
                                     "or use an exponent: 1e30")
        # the decimal exponent of the leading digit: 1234.5 is 1.2345e3
        lead = len(whole.lstrip("0")) - 1 if whole.strip("0") else \
            -(len(fraction) - len(fraction.lstrip("0")) + 1)
        if exponent and len(exponent.lstrip("+-")) > 6 \
                or abs((int(exponent) if exponent else 0) + lead) > MAX_EXPONENT \
                and mantissa.strip("0.") != "":
            raise ParseError(
                "number out of range", text=self.text, column=tok.start_pos + 1,
                width=len(tok), hint=f"numbers beyond 1e±{MAX_EXPONENT} are not supported")
        return Num(Fraction(str(tok)), span=_span(tok))

    def name(self, items: list[Any]) -> Var:
        (tok,) = items
        if str(tok).startswith("__"):
            raise ParseError(f"unknown name '{tok}'", text=self.text,
                             column=tok.start_pos + 1, width=len(tok),
                             hint="names may not begin with two underscores")
        return Var(str(tok), span=_span(tok))

    def call(self, items: list[Any]) -> Node:
        name, lpar, *rest, rpar = items
        args = tuple(a for a in rest if a is not None and not isinstance(a, Token))
        span = _span(name, rpar)
        op = ops.lookup_function(str(name))
        if op is None:
            if len(args) == 1:  # w_1(w_0 x): a product written by juxtaposition
                var = Var(str(name), span=_span(name))
                return self._call("dot", (var, args[0]), span, lpar.start_pos)
            raise ParseError(
                f"unknown function '{name}'", text=self.text, column=name.start_pos + 1,
                width=len(name), hint=suggest(str(name), ops.FUNCTIONS)
                or "see the list of functions in the language reference")
        if not op.arity <= len(args) <= op.arity + op.options:
            want = f"{op.arity} argument" + ("s" if op.arity != 1 else "")
            if op.options:
                want = f"{op.arity} or {op.arity + op.options} arguments"
            raise ParseError(
                f"{name}() takes {want}, got {len(args)}", text=self.text,
                column=name.start_pos + 1, width=len(name), hint=f"{op.name}: {op.doc}")
        return self._call(op.name, args, span, name.start_pos)

    def matrix(self, items: list[Any]) -> Matrix:
        lsq, *rest, rsq = items
        entries = [e for e in rest if not isinstance(e, Token)]
        span = _span(lsq, rsq)
        nested = [isinstance(e, Matrix) and len(e.rows) == 1 for e in entries]
        if all(nested):  # [[1, 0], [2, 1]]: stack the rows
            rows = tuple(cast(Matrix, e).rows[0] for e in entries)
            lengths = {len(r) for r in rows}
            if len(lengths) > 1:
                raise ParseError(
                    "matrix rows have different lengths " + str(sorted(len(r) for r in rows)),
                    text=self.text, column=lsq.start_pos + 1,
                    hint="every row of a matrix literal needs the same number of entries")
        elif any(isinstance(e, Matrix) for e in entries):
            raise ParseError(
                "a matrix literal mixes rows and entries", text=self.text,
                column=lsq.start_pos + 1, hint="write [[1, 2], [3, 4]] or a single row [1, 2]")
        else:
            rows = (tuple(entries),)
        node = Matrix(rows, span=span, depth=_depth(*entries))
        _check_depth(node, lsq.start_pos)
        return node


def _check_depth(node: Node, start: int) -> None:
    depth = current().depth
    if node.depth > depth:
        raise ParseError(f"expression nested more than {depth} levels deep", column=start + 1,
                         hint=hint("--max-depth", "max_depth",
                                   "split it into smaller expressions or simplify it"))


_PARSER = Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=True,
              transformer=_Build())


def parse(text: str) -> Node:
    """Parse an expression of the language into a tree.

    The text may be at most ``current().length`` characters long and its
    tree at most ``current().depth`` levels deep (:mod:`gradcheck.limits`).

    Raises:
        ParseError: the text is not an expression; the error has the
            column (1-based) and a hint.
    """
    if not isinstance(text, str):
        raise ParseError(f"an expression must be a string, not {type(text).__name__}")
    length = current().length
    if len(text) > length:
        raise ParseError(f"expression is {len(text)} characters long, more than {length}",
                         hint=hint("--max-length", "max_length",
                                   "split it into smaller expressions"))
    if not text.strip():
        raise ParseError("empty expression", hint="write an expression such as sum(x * x)")
    line = re.sub(r"\s", " ", text)  # one line, so the caret lines up
    try:
        return cast(Node, _PARSER.parse(text))
    except ParseError as e:
        e.text = line
        raise
    except UnexpectedInput as e:
        raise _syntax_error(e, line) from None


def _syntax_error(e: UnexpectedInput, line: str) -> ParseError:
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream or 0
        char = line[pos] if pos < len(line) else ""
        hint = None
        if char in "<>" or line[pos:pos + 2] in ("==", "!="):
            hint = ("the language has no comparisons; for the 0/1 mask of a > 0 write "
                    "step(a) (the derivative of relu), and sign(a) for -1/0/1")
        elif char in "=;:{}!&|`$#%?\\\"":
            hint = "the language has no statements or comparisons: write one expression"
        return ParseError(f"unexpected character {char!r}", text=line,
                          column=pos + 1, hint=hint)
    expected = getattr(e, "expected", None) or getattr(e, "allowed", None) or set()
    names = [_TERMINAL_TEXT[t] for t in _EXPECT_ORDER if t in expected]
    hint = "expected " + _join(names) if names else None
    if isinstance(e, UnexpectedEOF) or (
            isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        return ParseError("the expression ends too early", text=line,
                          column=len(line.rstrip()) + 1, hint=hint)
    assert isinstance(e, UnexpectedToken)
    tok = e.token
    return ParseError(f"unexpected {_token_text(tok)}", text=line, column=tok.start_pos + 1,
                      width=len(tok), hint=hint)


def _token_text(tok: Token) -> str:
    return f"'{tok}'"


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


@functools.lru_cache(maxsize=512)
def definition(text: str) -> Node:
    """gradcheck's own text in the language (a rule of the operator table, a
    derived operator's definition), parsed once and outside the user's limits.

    >>> definition("g*(1 - out**2)") is definition("g*(1 - out**2)")
    True
    """
    with Limits(length=10**7, depth=DEPTH_CAP).applied():
        return parse(text)
