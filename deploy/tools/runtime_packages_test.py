#!/usr/bin/python3
"""The runtime images install every Debian package the binaries load.

For each binary, `ldd` lists the shared libraries it loads and `dpkg -S`
names the Debian package of each; every such package (but libc6 and
libgcc-s1, which every Debian image has) must be in the apt-get install
line of each given Dockerfile's final stage. A library no package owns
fails too (it could not be installed in an image).

Usage: runtime_packages_test.py --binary=B... DOCKERFILE...
Exit status: 0 when complete, 1 when a package is missing, 2 on bad usage.
"""

import argparse
import os
import shlex
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lint_dockerfiles  # noqa: E402  pylint: disable=wrong-import-position

IN_EVERY_IMAGE = {"libc6", "libgcc-s1"}


def candidates(path):
    """The paths dpkg may know a library by (merged /usr aware)."""
    real = os.path.realpath(path)
    paths = [path, real] + ["/usr" + p for p in (path, real) if p.startswith("/lib")]
    return list(dict.fromkeys(paths))


def owners(paths):
    """{path: Debian package} for the paths dpkg knows (one dpkg-query run)."""
    result = subprocess.run(["dpkg-query", "-S"] + paths, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, check=False)
    found = {}
    for line in result.stdout.splitlines():
        package, _, path = line.partition(": ")
        for name in path.split(", "):
            found[name.strip()] = package.split(":", 1)[0].strip()
    return found


def packages_of(binary):
    result = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError("ldd %s failed: %s" % (binary, result.stdout))
    libraries, unowned = [], []
    for line in result.stdout.splitlines():
        words = line.split()
        if "=>" in words and words[words.index("=>") + 1].startswith("/"):
            libraries.append(words[words.index("=>") + 1])
        elif "not found" in line:
            unowned.append(line.strip())
    known = owners(sorted({c for library in libraries for c in candidates(library)}))
    packages = set()
    for library in libraries:
        package = next((known[c] for c in candidates(library) if c in known), None)
        if package is None:
            unowned.append(library)
        else:
            packages.add(package)
    return packages, unowned


def installed_by(dockerfile):
    """Packages apt-get install names in the final stage of a Dockerfile."""
    with open(dockerfile, encoding="utf-8") as stream:
        parsed = lint_dockerfiles.instructions(stream.read())
    last_from = max(i for i, (_, keyword, _) in enumerate(parsed) if keyword == "FROM")
    packages = set()
    for _, keyword, arguments in parsed[last_from:]:
        if keyword != "RUN":
            continue
        for command in lint_dockerfiles.commands_of(arguments):
            words = shlex.split(command)
            if words[:2] == ["apt-get", "install"]:
                packages.update(w for w in words[2:] if not w.startswith("-"))
    return packages


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", action="append", required=True)
    parser.add_argument("dockerfiles", nargs="+")
    args = parser.parse_args(argv)
    for tool in ("/usr/bin/ldd", "/usr/bin/dpkg-query"):
        if not os.access(tool, os.X_OK):
            print("FAIL: %s not found (a Debian machine is needed)" % tool)
            return 2
    needed, failures = set(), []
    for binary in args.binary:
        packages, unowned = packages_of(binary)
        needed |= packages
        failures += ["%s loads %s, which no Debian package ships" % (binary, u) for u in unowned]
    needed -= IN_EVERY_IMAGE
    print("runtime packages: %s" % " ".join(sorted(needed)))
    for dockerfile in args.dockerfiles:
        missing = needed - installed_by(dockerfile)
        if missing:
            failures.append("%s does not install %s" % (dockerfile, " ".join(sorted(missing))))
    for failure in failures:
        print("FAIL: %s" % failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
