from __future__ import annotations

import pytest

from gradcheck import NameLookupError, ShapeError
from gradcheck.language.parser import parse
from gradcheck.language.shapes import broadcast, infer

S = {"x": (3, 2), "y": (2, 2), "z": (3, 2), "A": (3, 2), "b": (1, 2), "c": (3, 1), "s": (1, 1)}

# text, reading, shape
TYPED = [
    ("(x·y+z)·A+z", "(x@y+z)*A+z", (3, 2)),
    ("x·y", "x@y", (3, 2)),  # inner dimensions agree: matrix product
    ("x·z", "x*z", (3, 2)),  # they do not, shapes are equal: elementwise
    ("y·y", "y@y", (2, 2)),  # both fit: the matrix product wins, as in the notes
    ("2x", "2*x", (3, 2)),
    ("s·x", "s*x", (3, 2)),
    ("x + b", "x+b", (3, 2)),  # a bias row broadcasts over rows
    ("x * c", "x*c", (3, 2)),  # a column broadcasts over columns
    ("x.T", "x.T", (2, 3)),
    ("sum(x)", "sum(x)", (1, 1)),
    ("trace(y) + det(y) + logdet(y)", "trace(y)+det(y)+logdet(y)", (1, 1)),
    ("inv(y) @ y", "inv(y)@y", (2, 2)),
    ("softmax(x)", "softmax(x)", (3, 2)),
    ("eye(2) + ones(2, 2)", "eye(2)+ones(2, 2)", (2, 2)),
    ("[[1, s], [s, 2]]", "[[1, s], [s, 2]]", (2, 2)),
]


@pytest.mark.parametrize(("text", "reading", "shape"), TYPED, ids=[t for t, *_ in TYPED])
def test_shapes_and_readings(text, reading, shape):
    typed = infer(parse(text), S)
    assert typed.text == reading
    assert typed.shape == shape


def test_reading_records_column_and_shapes():
    typed = infer(parse("(x·y+z)·A+z"), S)
    assert [str(r) for r in typed.readings] == [
        "· at column 3 read as @ (matrix product of 3×2 and 2×2)",
        "· at column 8 read as * (elementwise product of 3×2 and 3×2)",
    ]


def test_only_the_variables_that_occur_are_reported():
    assert infer(parse("z + x"), S).shapes == {"z": (3, 2), "x": (3, 2)}


# text, detail, hint (substring)
MISMATCHES = [
    ("x @ z", "'x' is 3×2 and 'z' is 3×2; @ needs", "x @ z.T or x.T @ z or the elementwise x * z"),
    ("x + y", "'x' is 3×2 and 'y' is 2×2; + works entry by entry", "the matrix product x @ y"),
    ("c·y", "'c' is 3×1 and 'y' is 2×2; · is neither", None),
    ("y · x", "'y' is 2×2 and 'x' is 3×2", "y @ x.T"),
]


@pytest.mark.parametrize(("text", "detail", "hint"), MISMATCHES, ids=[t for t, *_ in MISMATCHES])
def test_mismatch_names_both_operands_and_suggests_a_fix(text, detail, hint):
    with pytest.raises(ShapeError) as info:
        infer(parse(text), S, text=text)
    e = info.value
    assert e.message == "shape mismatch"
    assert e.detail.startswith(detail)
    assert len(e.operands) == 2
    if hint:
        assert hint in e.hint


def test_square_matrix_functions():
    with pytest.raises(ShapeError, match="trace of a non-square matrix") as info:
        infer(parse("trace(x)"), S, text="trace(x)")
    assert info.value.operands == (("x", (3, 2)),)


def test_matrix_literal_entries_must_be_scalars():
    with pytest.raises(ShapeError, match="not a scalar"):
        infer(parse("[[1, x]]"), S)


def test_constructor_sizes():
    with pytest.raises(ShapeError, match="whole numbers"):
        infer(parse("ones(2.5, 2)"), S)
    with pytest.raises(ShapeError, match="more than"):
        infer(parse("ones(10000, 10000)"), S)


def test_unknown_name_hints():
    with pytest.raises(NameLookupError) as info:
        infer(parse("sinn(x)"), S, text="sinn(x)")
    assert info.value.hint == "did you mean 'sin' or 'sign'?"
    assert info.value.column == 1
    with pytest.raises(NameLookupError, match="'sin' is a function") as info:
        infer(parse("sin x"), S)
    assert info.value.hint == "call it with parentheses: sin(...)"
    with pytest.raises(NameLookupError) as info:
        infer(parse("q + x"), S)
    assert "--let q=3x2" in info.value.hint


@pytest.mark.parametrize(("a", "b", "out"), [
    ((3, 2), (3, 2), (3, 2)), ((3, 2), (1, 2), (3, 2)), ((3, 1), (1, 2), (3, 2)),
    ((1, 1), (4, 5), (4, 5)), ((3, 2), (2, 3), None), ((3, 2), (3, 3), None)])
def test_broadcast(a, b, out):
    assert broadcast(a, b) == out


def test_a_call_to_a_function_the_language_lacks_says_so():
    with pytest.raises(NameLookupError, match="unknown name 'sech'") as info:
        infer(parse("sum(sech(x))"), S, text="sum(sech(x))")
    assert info.value.hint.startswith("called like a function, but the language has no "
                                      "function 'sech'")
    # a product written as a call is still read as one when the name has a shape
    assert infer(parse("w(x)"), {"w": (1, 3), "x": (3, 2)}).text == "w@x"


def test_a_chain_of_dots_reads_each_one_once():
    """Each · is typed as the product it reads as, without typing its operands
    again (which made long chains cubic in their length)."""
    text = "x" + "·x" * 150
    typed = infer(parse(text), {"x": (1, 1)})
    assert typed.text == "x" + "@x" * 150
    assert [r.column for r in typed.readings] == [2 + 2 * k for k in range(150)]
