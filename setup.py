"""The one packaging fact pyproject.toml cannot state: which packages to ship.

Every package under coach/ (found, so a new one needs no edit here), plus
`coach.content.shipped`, whose files live in the repository's content/ folder
(`[tool.setuptools.package-dir]` in pyproject.toml maps it): the texts travel
inside the wheel and `coach` finds them from any folder. Everything else about
the package is in pyproject.toml.
"""

from setuptools import find_namespace_packages, setup

setup(packages=[*find_namespace_packages(include=["coach*"]), "coach.content.shipped"])
