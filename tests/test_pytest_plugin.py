"""The pytest plugin: the gradchecker fixture and its ini defaults."""

from __future__ import annotations

TEST = '''
import numpy as np
import gradcheck

def test_defaults(gradchecker):
    assert (gradchecker.rtol, gradchecker.atol, gradchecker.seed) == (RTOL, ATOL, SEED)
    assert gradchecker.method == METHOD

def test_assert_gradient(gradchecker):
    r = gradchecker.assert_gradient("sum(z * z)", at={"z": [[1.0, 2.0]]}, expect="2*z")
    assert r.rtol == RTOL and r["z"].methods == (EXPECTED_METHOD,)

def test_wrong_claim_fails_with_the_report(gradchecker):
    gradchecker.assert_gradient("sum(z * z)", at={"z": [[1.0, 2.0]]}, expect="z")

def test_assert_function(gradchecker):
    gradchecker.assert_function(lambda x: x * x, lambda g, x: 2 * g * x, at={"x": [[1.5]]})
'''


def test_fixture_with_default_settings(pytester):
    pytester.makepyfile(TEST.replace("RTOL", "1e-07").replace("ATOL", "0.0").replace(
        "SEED", "0").replace("EXPECTED_METHOD", '"complex"').replace("METHOD", '"auto"'))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*GradientMismatch*", "*∂f/∂z[[]0,0[]]*"])


def test_fixture_reads_the_ini(pytester):
    pytester.makeini("[pytest]\ngradcheck_rtol = 1e-5\ngradcheck_atol = 1e-12\n"
                     "gradcheck_seed = 7\ngradcheck_method = central\n")
    pytester.makepyfile(TEST.replace("RTOL", "1e-05").replace("ATOL", "1e-12").replace(
        "SEED", "7").replace("EXPECTED_METHOD", '"central"').replace("METHOD", '"central"'))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3, failed=1)


def test_a_bad_ini_value_is_one_clear_error(pytester):
    pytester.makeini("[pytest]\ngradcheck_method = secant\n")
    pytester.makepyfile("def test_it(gradchecker):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*gradcheck: bad ini value*secant*"])
    assert result.ret != 0


def test_the_fixture_works_inside_given_and_hides_its_frames(pytester):
    pytester.makepyfile('''
from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=5, deadline=None)
@given(st.integers(1, 3))
def test_property(gradchecker, n):
    gradchecker.assert_gradient("sum(x * x)", shapes={"x": (n, 1)}, expect="2*x")


def test_failing(gradchecker):
    gradchecker.assert_gradient("sum(x * x)", shapes={"x": (2, 1)}, expect="x")
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    shown = result.stdout.str()
    assert "pytest_plugin.py" not in shown and "gradcheck/api.py" not in shown
    result.stdout.fnmatch_lines(["*GradientMismatch*"])
