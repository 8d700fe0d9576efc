"""`make dist`: the two .debs and the offline station bundle, in dist/.

    python deploy/packaging/build.py [--out dist] [--work build/dist]

Versions come from the project's wheel (pyproject.toml), dependencies from
deploy/constraints.txt. Needs Debian's python3.11 (python3.11-venv), dpkg-deb
and access to PyPI (or a pip configured mirror) for the pinned wheels.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from bundle import PYTHONS, build_bundle
from debs import ROLES, build_deb, source_date_epoch
from wheels import REPO, BuildError, download, project_wheel, wheel_version


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "dist",
                        help="where the .debs and the bundle go (default: dist/)")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "dist",
                        help="scratch directory, emptied first (default: build/dist/)")
    args = parser.parse_args()
    work: Path = args.work.resolve()
    try:
        shutil.rmtree(work, ignore_errors=True)
        wheel = project_wheel(work / "project")
        version = wheel_version(wheel)
        built = []
        for role in ROLES:
            house = work / f"wheels-{role.name}-cp311"
            download(wheel, role.name, "3.11", house)
            built.append(build_deb(role, house, version, work / "stage", args.out))
        station_house = work / "wheels-agent-offline"
        for python in PYTHONS:
            download(wheel, "agent", python, station_house)
        built.append(build_bundle(station_house, version, source_date_epoch(), args.out))
    except BuildError as exc:
        print(f"make dist: {exc}", file=sys.stderr)
        return 2
    for path in built:
        print(f"{path}  {path.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
