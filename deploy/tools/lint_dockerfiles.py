#!/usr/bin/python3
"""A Dockerfile linter for Gander's images (hadolint's main rules, offline).

  lint_dockerfiles.py deploy/docker/*.Dockerfile

Rules (each violation is printed as FILE:LINE: RULE message):
  from-tag        every FROM names a tag or digest, never `latest` (ARG
                  defaults are substituted first)
  multi-stage     the final stage builds nothing (no bazel, no tools/setup.sh,
                  no COPY of the whole context): it ships what an earlier
                  stage built; COPY --from names an earlier stage
  user            the final stage switches to a non-root USER
  healthcheck     the final stage has a HEALTHCHECK (not NONE)
  add             ADD is not used (COPY copies; downloads belong in RUN)
  apt             `apt` is not used in RUN (apt-get is the scripting tool)
  apt-recommends  apt-get install has --no-install-recommends and -y
  apt-cleanup     a RUN that installs also removes /var/lib/apt/lists/*
  apt-update      apt-get update never runs alone in a RUN (stale caches)
  pipefail        a RUN with a pipe follows SHELL [... "-o", "pipefail" ...]
  sudo            sudo is not used
  exec-form       ENTRYPOINT, CMD and HEALTHCHECK CMD use the JSON form
  workdir         WORKDIR is absolute
  maintainer      MAINTAINER is not used (LABEL is)
  dockerignore    FILE.dockerignore exists and excludes bazel-* and
                  tools/node_modules (the context is the repository root)

Exit status: 0 when clean, 1 when any rule is broken, 2 on bad usage.
As a module: lint(text, path, dockerignore_text) returns [(line, rule, message)].
"""

import json
import os
import re
import shlex
import sys


def instructions(text):
    """[(line number, INSTRUCTION, arguments)], continuation lines joined."""
    result = []
    pending, start = None, 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if pending is None:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            pending, start = "", number
        elif line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, arguments = pending.strip().partition(" ")
        result.append((start, keyword.upper(), arguments.strip()))
        pending = None
    if pending is not None:
        keyword, _, arguments = pending.strip().partition(" ")
        result.append((start, keyword.upper(), arguments.strip()))
    return result


def substitute(text, variables):
    def replace(match):
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", replace, text)


def commands_of(run):
    """The simple commands of a shell RUN line (split on && || ; |)."""
    return [c.strip() for c in re.split(r"&&|\|\||;|\|", run) if c.strip()]


def is_exec_form(arguments):
    try:
        value = json.loads(arguments)
    except ValueError:
        return False
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def lint(text, path="Dockerfile", dockerignore=None):
    problems = []

    def report(line, rule, message):
        problems.append((line, rule, message))

    parsed = instructions(text)
    global_args = {}
    stages = []  # [{"name", "line", "user", "healthcheck", "pipefail"}]
    for line, keyword, arguments in parsed:
        if keyword == "ARG" and not stages:
            name, _, default = arguments.partition("=")
            global_args[name.strip()] = default.strip().strip('"')
            continue
        if keyword == "FROM":
            words = arguments.split()
            words = [w for w in words if not w.startswith("--platform")]
            image = substitute(words[0], global_args) if words else ""
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append({"name": name, "line": line, "user": None, "healthcheck": False,
                           "pipefail": False, "image": image, "builds": None})
            known = [s["name"] for s in stages[:-1]]
            if image in known:
                continue  # FROM an earlier stage
            repository = image.split("@", 1)[0]
            last = repository.rsplit("/", 1)[-1]
            tag = last.split(":", 1)[1] if ":" in last else None
            if "$" in image:
                report(line, "from-tag", "FROM %s: an ARG without a default" % words[0])
            elif "@sha256:" not in image and not tag:
                report(line, "from-tag", "FROM %s has no tag (pin the image)" % image)
            elif tag == "latest":
                report(line, "from-tag", "FROM %s uses the tag latest" % image)
            continue
        if not stages:
            report(line, "from-tag", "%s before the first FROM" % keyword)
            continue
        stage = stages[-1]
        if keyword == "USER":
            stage["user"] = (line, arguments)
        elif keyword == "HEALTHCHECK":
            stage["healthcheck"] = arguments.upper() != "NONE"
            command = re.sub(r"^(--[a-z-]+=\S+\s+)*", "", arguments)
            if command.upper().startswith("CMD"):
                if not is_exec_form(command[3:].strip()):
                    report(line, "exec-form", "HEALTHCHECK CMD is not in JSON (exec) form")
        elif keyword == "SHELL":
            try:
                shell = json.loads(arguments)
            except ValueError:
                shell = []
            stage["pipefail"] = "pipefail" in shell
        elif keyword == "ADD":
            report(line, "add", "ADD: use COPY (and RUN for downloads)")
        elif keyword == "MAINTAINER":
            report(line, "maintainer", "MAINTAINER is deprecated: use LABEL")
        elif keyword in ("ENTRYPOINT", "CMD") and not is_exec_form(arguments):
            report(line, "exec-form", "%s is not in JSON (exec) form" % keyword)
        elif keyword == "WORKDIR" and not arguments.startswith("/") and "$" not in arguments:
            report(line, "workdir", "WORKDIR %s is not absolute" % arguments)
        elif keyword == "COPY":
            if re.fullmatch(r"(--chown=\S+\s+)?\.\s+\S+", arguments):
                stage["builds"] = stage["builds"] or (line, "COPY of the whole context")
            match = re.search(r"--from=(\S+)", arguments)
            if match and match.group(1) not in [s["name"] for s in stages[:-1]]:
                report(line, "multi-stage", "COPY --from=%s names no earlier stage" % match.group(1))
        elif keyword == "RUN":
            lint_run(line, arguments, stage, report)
            if re.search(r"(^|[\s;&|(])(bazel|tools/setup\.sh)(\s|$)", arguments):
                stage["builds"] = stage["builds"] or (line, "a build (bazel or tools/setup.sh)")

    if stages:
        final = stages[-1]
        if final["builds"]:
            report(final["builds"][0], "multi-stage",
                   "the final stage runs %s: build in an earlier stage and copy the "
                   "results" % final["builds"][1])
        if final["user"] is None:
            report(final["line"], "user", "the final stage never sets USER (it would run as root)")
        else:
            line, user = final["user"]
            name = user.split(":", 1)[0].strip()
            if name in ("root", "0") or not name:
                report(line, "user", "USER %s runs as root" % user)
        if not final["healthcheck"]:
            report(final["line"], "healthcheck", "the final stage has no HEALTHCHECK")
    if dockerignore is None:
        report(1, "dockerignore", "no %s.dockerignore beside it" % os.path.basename(path))
    else:
        patterns = [p.strip() for p in dockerignore.splitlines()
                    if p.strip() and not p.strip().startswith("#")]
        for needed in ("bazel-*", "tools/node_modules"):
            if needed not in patterns:
                report(1, "dockerignore", "%s.dockerignore does not exclude %s"
                       % (os.path.basename(path), needed))
    return sorted(problems)


def lint_run(line, run, stage, report):
    if is_exec_form(run):
        run = " ".join(json.loads(run))
    commands = commands_of(run)
    words_of = []
    for command in commands:
        try:
            words_of.append(shlex.split(command))
        except ValueError:
            words_of.append(command.split())
    installs = False
    updates = False
    for words in words_of:
        words = [w for w in words if w not in ("!",)]
        if not words:
            continue
        program = os.path.basename(words[0])
        if program == "sudo":
            report(line, "sudo", "sudo in RUN (the build runs as root already)")
            words = words[1:]
            program = os.path.basename(words[0]) if words else ""
        if program == "apt":
            report(line, "apt", "`apt` is for people: use apt-get in scripts")
        if program == "apt-get":
            verbs = [w for w in words[1:] if not w.startswith("-")]
            if "update" in verbs:
                updates = True
            if "install" in verbs:
                installs = True
                if "--no-install-recommends" not in words:
                    report(line, "apt-recommends", "apt-get install without --no-install-recommends")
                if not ({"-y", "--yes", "-qy", "-yq", "--assume-yes"} & set(words)):
                    report(line, "apt-recommends", "apt-get install without -y")
    if installs and not re.search(r"rm\s+-(rf|fr)\s+/var/lib/apt/lists(/\*)?", run):
        report(line, "apt-cleanup", "apt-get install without rm -rf /var/lib/apt/lists/* "
                                    "in the same RUN")
    if updates and not installs:
        report(line, "apt-update", "apt-get update in a RUN that installs nothing")
    if re.search(r"(?<!\|)\|(?!\|)", run) and not stage["pipefail"]:
        report(line, "pipefail", "a pipe in RUN without SHELL [\"/bin/bash\", \"-o\", "
                                 "\"pipefail\", \"-c\"] (a failing stage would pass)")


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    failed = False
    for path in argv:
        try:
            with open(path, encoding="utf-8") as stream:
                text = stream.read()
        except OSError as error:
            print("lint_dockerfiles: %s" % error, file=sys.stderr)
            return 2
        ignore = None
        if os.path.exists(path + ".dockerignore"):
            with open(path + ".dockerignore", encoding="utf-8") as stream:
                ignore = stream.read()
        problems = lint(text, path, ignore)
        for line, rule, message in problems:
            print("%s:%d: %s %s" % (path, line, rule, message))
        if not problems:
            print("%s: ok" % path)
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
