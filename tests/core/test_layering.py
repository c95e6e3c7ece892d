"""How the apps may import one another (README, "Layout"), checked on the source.

Apps import downward only (billing → credits → organizations → accounts →
core); models never import services; nothing outside a services package
imports that package's private modules (`_ledger`, ...) or private names.
"""

import ast
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
LAYERS = ["core", "accounts", "organizations", "credits", "billing"]  # lowest first


def _modules():
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield app, path


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, [alias.name for alias in node.names]


def _where(path, line):
    return f"{path.relative_to(ROOT)}:{line}"


def test_apps_import_downward_only():
    offenders = []
    for app, path in _modules():
        for line, module, _names in _imports(path):
            top = module.split(".")[0]
            if top in LAYERS and LAYERS.index(top) > LAYERS.index(app):
                offenders.append(f"{_where(path, line)}: {app} imports {module}")
    assert offenders == []


@pytest.mark.parametrize("app", [app for app in LAYERS if (ROOT / app / "models.py").exists()])
def test_models_never_import_services(app):
    path = ROOT / app / "models.py"
    offenders = [f"{_where(path, line)}: {module}" for line, module, _ in _imports(path) if ".services" in module]
    assert offenders == []


def test_private_service_modules_and_names_stay_inside_their_package():
    offenders = []
    for _app, path in _modules():
        for line, module, names in _imports(path):
            parts = module.split(".")
            if "services" not in parts:
                continue
            package = ".".join(parts[: parts.index("services") + 1])
            inside = path.parent == ROOT.joinpath(*package.split("."))
            private_module = any(part.startswith("_") for part in parts[parts.index("services") + 1 :])
            private_names = [name for name in names if name.startswith("_")]
            if not inside and (private_module or private_names):
                offenders.append(f"{_where(path, line)}: {module} {private_names or ''}")
    assert offenders == []
