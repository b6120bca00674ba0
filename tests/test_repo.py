"""The README's two set-up commands are what CI runs."""

import re

from conftest import REPO


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    return [line.strip() for block in blocks[:2] for line in block.strip().splitlines()]


def test_ci_runs_the_readme_commands_verbatim():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    commands = readme_commands()
    assert len(commands) == 2 and "pytest" in commands[1]
    for command in commands:
        assert command in ci, f"README command not in .ci/run: {command}"
