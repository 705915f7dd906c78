#!/usr/bin/python3
"""Checks Gander's Dockerfiles with lint_dockerfiles.py, and shows that the
linter reports each rule: every case breaks one rule in a copy of a real
Dockerfile and expects that rule among the violations.

Usage: lint_dockerfiles_test.py DOCKERFILE...   (the project's Dockerfiles)
"""

import os
import re
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lint_dockerfiles  # noqa: E402  pylint: disable=wrong-import-position

DOCKERFILES = []


def read(path):
    with open(path, encoding="utf-8") as stream:
        return stream.read()


def worker_cpu():
    path = next(p for p in DOCKERFILES if p.endswith("worker-cpu.Dockerfile"))
    return path, read(path), read(path + ".dockerignore")


def substituted(text, pattern, replacement):
    changed = re.sub(pattern, replacement, text, flags=re.MULTILINE)
    assert changed != text, "pattern %r matched nothing" % pattern
    return changed


# (name, rule expected, Dockerfile edit, .dockerignore edit or None)
CASES = [
    ("no USER", "user", lambda t: substituted(t, r"^USER .*\n", ""), None),
    ("USER root", "user", lambda t: substituted(t, r"^USER .*$", "USER root"), None),
    ("USER 0", "user", lambda t: substituted(t, r"^USER .*$", "USER 0:0"), None),
    ("no HEALTHCHECK", "healthcheck",
     lambda t: substituted(t, r"^HEALTHCHECK .*\\\n.*\n", ""), None),
    ("HEALTHCHECK NONE", "healthcheck",
     lambda t: substituted(t, r"^HEALTHCHECK .*\\\n.*\n", "HEALTHCHECK NONE\n"), None),
    ("FROM latest", "from-tag",
     lambda t: substituted(t, r"^FROM debian:\$\{DEBIAN_RELEASE\}-slim", "FROM debian:latest"),
     None),
    ("FROM without a tag", "from-tag",
     lambda t: substituted(t, r"^FROM debian:\$\{DEBIAN_RELEASE\}-slim", "FROM debian"), None),
    ("ARG default latest", "from-tag",
     lambda t: substituted(t, r"^ARG DEBIAN_RELEASE=.*$", "ARG DEBIAN_RELEASE=latest"), None),
    ("install with recommends", "apt-recommends",
     lambda t: substituted(t, r" --no-install-recommends", ""), None),
    ("install without -y", "apt-recommends",
     lambda t: substituted(t, r"apt-get install -y ", "apt-get install "), None),
    ("no apt lists cleanup", "apt-cleanup",
     lambda t: substituted(t, r"^ && rm -rf /var/lib/apt/lists/\* \\\n", ""), None),
    ("apt instead of apt-get", "apt",
     lambda t: substituted(t, r"apt-get install", "apt install"), None),
    ("update on its own", "apt-update",
     lambda t: substituted(t, r"^RUN apt-get update \\\n && ", "RUN apt-get update\nRUN "),
     None),
    ("ADD instead of COPY", "add",
     lambda t: substituted(t, r"^COPY \. \.", "ADD . ."), None),
    ("pipe without pipefail", "pipefail",
     lambda t: substituted(t, r"^SHELL .*\n", ""), None),
    ("shell-form CMD", "exec-form",
     lambda t: substituted(t, r"^CMD .*$", "CMD serve --help"), None),
    ("shell-form HEALTHCHECK", "exec-form",
     lambda t: substituted(t, r"CMD \[\"/usr/local/bin/gander-health-probe\".*\]",
                           "CMD /usr/local/bin/gander-health-probe"), None),
    ("single stage that builds", "multi-stage",
     lambda t: substituted(t, r"^COPY --from=build .*$",
                           "COPY . /src\nRUN cd /src && tools/setup.sh && bazel build //cli:gander"),
     None),
    ("COPY from an unknown stage", "multi-stage",
     lambda t: substituted(t, r"--from=build", "--from=builder"), None),
    ("relative WORKDIR", "workdir",
     lambda t: substituted(t, r"^WORKDIR /var/lib/gander$", "WORKDIR gander"), None),
    ("sudo", "sudo",
     lambda t: substituted(t, r"^ && groupadd", " && sudo groupadd"), None),
    ("MAINTAINER", "maintainer",
     lambda t: substituted(t, r"^USER ", "MAINTAINER someone\nUSER "), None),
    ("no .dockerignore", "dockerignore", lambda t: t, lambda i: None),
    ("context keeps bazel outputs", "dockerignore", lambda t: t,
     lambda i: substituted(i, r"^bazel-\*\n", "")),
]


class LintDockerfilesTest(unittest.TestCase):

    def test_project_dockerfiles_are_clean(self):
        self.assertTrue(DOCKERFILES, "no Dockerfiles given")
        for path in DOCKERFILES:
            with self.subTest(path=path):
                ignore = read(path + ".dockerignore") if os.path.exists(
                    path + ".dockerignore") else None
                self.assertEqual(lint_dockerfiles.lint(read(path), path, ignore), [])

    def test_each_rule_is_enforced(self):
        path, text, ignore = worker_cpu()
        for name, rule, edit, edit_ignore in CASES:
            with self.subTest(case=name):
                problems = lint_dockerfiles.lint(
                    edit(text), path, edit_ignore(ignore) if edit_ignore else ignore)
                self.assertIn(rule, [p[1] for p in problems],
                              "rule %s not reported; got %s" % (rule, problems))

    def test_command_line_exit_status(self):
        broken = os.path.join(os.environ.get("TEST_TMPDIR", "/tmp"), "broken.Dockerfile")
        path, text, ignore = worker_cpu()
        with open(broken, "w", encoding="utf-8") as out:
            out.write(substituted(text, r"^USER .*\n", ""))
        with open(broken + ".dockerignore", "w", encoding="utf-8") as out:
            out.write(ignore)
        self.assertEqual(lint_dockerfiles.main([broken]), 1)
        self.assertEqual(lint_dockerfiles.main([path]), 0)
        self.assertEqual(lint_dockerfiles.main([broken + ".missing"]), 2)


if __name__ == "__main__":
    DOCKERFILES.extend(sys.argv[1:])
    unittest.main(argv=sys.argv[:1])
