"""Audit cases of issue 24 that had no command-line regression test yet.

Each runs the exact command of the audit: a clear error (exit 2, naming the user's parameter,
not an internal one, no traceback) or a finite answer.
"""

from __future__ import annotations

import json
import math

from click.testing import CliRunner

from astrofield.cli import main


def _invoke(*args: str):
    res = CliRunner().invoke(main, list(args))
    assert "Traceback" not in res.output
    return res


def test_spectrum_kernel_norm_overflow_refused_by_range():
    """``w_i = 1e308`` died with SIGBUS inside quadpack; now refused before any quadrature."""
    res = _invoke("spectrum", "--N", "32", "--kernel", "mexican_hat", "--kernel-param", "w_i=1e308")
    assert res.exit_code == 2, res.output
    assert "w_i = 1e+308 is outside the allowed range" in res.output


def test_wander_short_T_names_the_users_parameters():
    """``wander --T 0.1`` named an internal ``t_min``; now T and t_fit, and what to change."""
    res = _invoke("wander", "--T", "0.1")
    assert res.exit_code == 2, res.output
    assert "T = 0.1" in res.output and "t_fit" in res.output
    assert "t_min" not in res.output


def test_gamma_boundary_at_large_beta_has_no_internal_default():
    """``boundary --vary gamma --beta 1e6`` blamed an internal ``hi = 20``; now it finds the
    crossing (gamma* well above 1e5, both methods) and says it is exact theory."""
    res = _invoke("boundary", "--vary", "gamma", "--beta", "1e6", "--json")
    assert res.exit_code == 0, res.output
    obj = json.loads(res.output.strip().splitlines()[-1])
    assert "hi = 20" not in res.output
    for key in ("gamma_star", "fourier_gamma_star"):
        assert math.isfinite(obj[key]) and obj[key] > 1e5, obj
    assert obj["resolved"] is True
