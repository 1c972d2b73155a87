"""archspec.runtime.environ.scoped_environ: changes last for the block only, even when it raises."""
from __future__ import annotations

import os

import pytest

from archspec.runtime.environ import scoped_environ


def test_sets_removes_and_restores(monkeypatch):
    monkeypatch.setenv("ARCHSPEC_T_KEEP", "old")
    monkeypatch.delenv("ARCHSPEC_T_NEW", raising=False)
    with scoped_environ({"ARCHSPEC_T_KEEP": None, "ARCHSPEC_T_NEW": "1"}):
        assert "ARCHSPEC_T_KEEP" not in os.environ and os.environ["ARCHSPEC_T_NEW"] == "1"
    assert os.environ["ARCHSPEC_T_KEEP"] == "old" and "ARCHSPEC_T_NEW" not in os.environ


def test_restores_after_an_exception(monkeypatch):
    monkeypatch.delenv("ARCHSPEC_T_NEW", raising=False)
    with pytest.raises(RuntimeError):
        with scoped_environ({"ARCHSPEC_T_NEW": "x"}):
            raise RuntimeError("boom")
    assert "ARCHSPEC_T_NEW" not in os.environ
