"""The release image: the Dockerfile and .dockerignore."""

from __future__ import annotations

import fnmatch
import re

from conftest import DOCKERIGNORE, ROOT, _dockerfile_instructions, _final_stage


def _dockerignore_patterns() -> list[str]:
    return [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_is_multi_stage_and_installs_from_the_lock_without_devstack() -> None:
    instructions = _dockerfile_instructions()
    assert sum(keyword == "FROM" for keyword, _ in instructions) >= 2
    syncs = [args for keyword, args in instructions if keyword == "RUN" and "uv sync" in args]
    assert syncs
    members = set()
    for path in ROOT.glob("services/*/pyproject.toml"):
        name = re.search(r'^name = "([^"]+)"', path.read_text(), re.MULTILINE)
        assert name, f"{path} names no package"
        members.add(name.group(1))
    arg_defaults: dict[str, str] = {}
    for keyword, args in instructions:
        if keyword == "ARG" and "=" in args:
            default = re.match(r'(\w+)="?([^"]*)"?', args)
            assert default, args
            arg_defaults[default.group(1)] = default.group(2)
    for command in syncs:
        expanded = re.sub(r"\$\{(\w+)\}", lambda m: arg_defaults.get(m.group(1), ""), command)
        assert "--frozen" in expanded or "--locked" in expanded
        assert "--no-dev" in expanded
        # --all-packages installs the root project, which pulls the devstack (embedded servers).
        assert "--all-packages" not in expanded
        assert "devstack" not in expanded
        assert set(re.findall(r"--package\s+(\S+)", expanded)) == members


def test_dockerfile_final_stage_has_what_the_services_need_and_runs_as_non_root() -> None:
    final = _final_stage()
    copies = [args for keyword, args in final if keyword == "COPY"]
    sources = [args.split()[-2].rstrip("/") for args in copies if "--from" not in args]
    for needed in ("migrations", "content", "services", "shared"):
        assert needed in sources, f"the image lacks {needed}/"
        assert (ROOT / needed).is_dir()
    assert any("--from=builder" in args and ".venv" in args for args in copies), "the virtualenv from the builder"
    users = [args for keyword, args in final if keyword == "USER"]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    env_lines = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "PARLA_CONTENT_DIR=/app/content" in env_lines
    assert any(args.split()[-1].rstrip("/") == "/app/content" for args in copies if args.split()[-2] == "content/")


def test_dockerfile_copies_only_existing_paths_that_dockerignore_keeps() -> None:
    patterns = _dockerignore_patterns()
    for keyword, args in _dockerfile_instructions():
        if keyword != "COPY" or "--from" in args:
            continue
        for source in args.split()[:-1]:
            relative = source.rstrip("/")
            assert (ROOT / relative).exists(), f"COPY {source}: no such path"
            for pattern in patterns:
                assert not fnmatch.fnmatch(relative, pattern.rstrip("/")), f"COPY {source} is excluded by {pattern}"
    for excluded in (".venv", ".parla", ".git"):
        assert excluded in patterns
