"""Build step beyond pyproject.toml: compile the message catalogs into the package.

The ``.po`` files are the source; a wheel carries their ``.mo``, compiled by Babel's
``pybabel compile``, so installed kpitree loads translations without parsing ``.po``.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogs(build_py):
    """`build_py` that also compiles ``kpitree/i18n/locales/*/LC_MESSAGES/*.po``."""

    def run(self) -> None:  # noqa: D102 (build_py's)
        super().run()
        from babel.messages.frontend import CommandLineInterface

        locales = Path(self.build_lib, "kpitree", "i18n", "locales")
        if locales.is_dir():
            CommandLineInterface().run(
                [
                    "pybabel",
                    "--quiet",
                    "compile",
                    "--domain",
                    "kpitree",
                    "--directory",
                    str(locales),
                ]
            )


setup(cmdclass={"build_py": BuildWithCatalogs})
