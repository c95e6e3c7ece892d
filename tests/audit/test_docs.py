"""docs/audit.md lists every action Keel records, and nothing else."""

import re
from pathlib import Path

from django.conf import settings

from audit.actions import ACCOUNT_ACTIONS, ACTIONS


def test_the_table_in_the_docs_is_the_list_of_actions():
    text = (Path(settings.BASE_DIR) / "docs" / "audit.md").read_text()
    table = text.split("## What is recorded")[1].split("## Reading it")[0]
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)`(?:(?: /|,) `([a-z_]+\.[a-z_]+)`)?", table, re.M))
    assert {a for pair in documented for a in pair if a} == set(ACTIONS) | set(ACCOUNT_ACTIONS)


def test_every_action_the_code_writes_is_listed():
    written = set()
    for app in ("accounts", "organizations", "credits", "billing"):
        for path in (Path(settings.BASE_DIR) / app / "services").rglob("*.py"):
            text = path.read_text()
            # An action is passed as `action=`, to an audit helper, returned by one, or as a
            # call's argument on a line of its own.
            written |= set(re.findall(r'(?:action=|audit\(|_requested\(|return |else )"([a-z_]+\.[a-z_]+)"', text))
            written |= set(re.findall(r'^\s+"([a-z_]+\.[a-z_]+)",$', text, re.M))
            written |= set(re.findall(r'^[A-Z]+ = "([a-z_]+\.[a-z_]+)"$', text, re.M))
    assert written - set(ACTIONS) - set(ACCOUNT_ACTIONS) == set()
    assert len(written) > 30
