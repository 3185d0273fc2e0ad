"""Maps the top-level folders under the one import name ``viewrank``.

``plugins/`` installs as ``viewrank.plugins``, ``adapters/`` as ``viewrank.adapters`` and
``exporters/`` as ``viewrank.exporters``: nothing with a generic name lands in site-packages.
"""

from setuptools import find_packages, setup

MAPPED = ("plugins", "adapters", "exporters")

packages = find_packages(include=["viewrank", "viewrank.*"])
package_dir = {"viewrank": "viewrank"}
for top in MAPPED:
    packages.append(f"viewrank.{top}")
    package_dir[f"viewrank.{top}"] = top
    packages += [f"viewrank.{top}.{sub}" for sub in find_packages(top)]

setup(packages=packages, package_dir=package_dir)
