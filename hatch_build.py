"""Wheel build hook: compile the gettext catalogs (cpi_link/locale/*/LC_MESSAGES/*.po) to .mo with
Babel, so an installed wheel carries them. The .mo files are build output, not kept in git."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CatalogBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version, build_data):
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        root = Path(self.root)
        self._tmp = Path(tempfile.mkdtemp(prefix="cpi-link-mo-"))
        for po_path in sorted((root / "cpi_link" / "locale").glob("*/LC_MESSAGES/*.po")):
            rel = po_path.relative_to(root).with_suffix(".mo")
            with open(po_path, "rb") as f:
                catalog = read_po(f)
            mo_path = self._tmp / rel
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            with open(mo_path, "wb") as f:
                write_mo(f, catalog, use_fuzzy=False)
            build_data["force_include"][str(mo_path)] = rel.as_posix()

    def finalize(self, version, build_data, artifact_path):
        shutil.rmtree(getattr(self, "_tmp", ""), ignore_errors=True)
