"""docs/ says what the code does: the ownership table in docs/case-loop.md is the loop table's."""

from __future__ import annotations

from pathlib import Path

from cases import loop
from grid.models import Role

ROOT = Path(__file__).resolve().parent.parent
UNIT = {
    loop.Level.CELL: "cell",
    loop.Level.COMMUNITY: "community",
    loop.Level.STREET: "street",
    loop.Level.DEPARTMENT: "department",
    loop.Level.DISTRICT: "district",
}
ROLE = {
    Role.GRID_WORKER: "grid worker",
    Role.DISPATCHER: "dispatcher",
    Role.MEDIATOR: "mediator",
    Role.COORDINATOR: "coordinator",
    Role.HANDLER: "handler",
    Role.ADMINISTRATOR: "administrator",
}


def rendered() -> str:
    rows = [
        "| step | chain, closest first | clock | actions → destinations |",
        "|---|---|---|---|",
    ]
    for rule in loop.STEPS.values():
        chain = " → ".join(
            ", ".join(f"{UNIT[h.level]} {ROLE[h.role]}" for h in level) for level in rule.chain
        )
        actions = "; ".join(f"{name} → {', '.join(to)}" for name, to in rule.actions.items())
        step = f"{rule.state}" + (" (independent)" if rule.independent else "")
        rows.append(f"| {step} | {chain} | {rule.clock} | {actions} |")
    return "\n".join(rows)


def test_the_ownership_table_in_the_docs_is_the_loop_table():
    text = (ROOT / "docs" / "case-loop.md").read_text()
    start = text.index("-->", text.index("<!-- ownership-table")) + len("-->")
    end = text.index("<!-- /ownership-table -->")
    assert text[start:end].strip() == rendered()
