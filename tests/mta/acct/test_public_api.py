"""The public surface of mta.acct: explicit, documented, and re-exported in one place."""

from __future__ import annotations

import inspect
from types import ModuleType

import pytest

import mta.acct
from mta.acct import fields, reader, rejectlog, timefmt, writer

MODULES = [fields, timefmt, writer, reader, rejectlog]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_public_module_declares_its_exports(module: ModuleType) -> None:
    """Each public module lists its API in __all__, and every listed name exists."""
    assert module.__all__
    for name in module.__all__:
        assert hasattr(module, name), name


def test_the_package_reexports_every_public_name() -> None:
    """Everything the public modules export is importable from mta.acct itself."""
    exported = {name for module in MODULES for name in module.__all__}
    assert exported <= set(mta.acct.__all__)
    for name in mta.acct.__all__:
        assert hasattr(mta.acct, name), name


@pytest.mark.parametrize("name", sorted(mta.acct.__all__))
def test_every_public_function_and_class_has_a_docstring(name: str) -> None:
    """Public functions, classes and their public methods say what they do."""
    obj = getattr(mta.acct, name)
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return
    assert inspect.getdoc(obj), name
    if inspect.isclass(obj):
        for attr, member in vars(obj).items():
            if not attr.startswith("_") and (callable(member) or isinstance(member, property)):
                assert inspect.getdoc(member), f"{name}.{attr}"
