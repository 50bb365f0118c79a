"""``step.run`` is typed: its result has the type ``fn`` returns, and wrong arguments are
type errors (checked with mypy, as a user's own type check would)."""

from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[3]

SNIPPET = """
import outlast

async def handler(ctx: outlast.Context) -> None:
    async def fetch(user_id: int) -> str:
        return "x"

    def price(amount: int, currency: str) -> float:
        return 1.0

    reveal_type(await ctx.step.run("a", fetch, 1))
    reveal_type(await ctx.step.run("b", price, 1, "EUR"))
    await ctx.step.run("c", price, "one", "EUR")

def sync_handler(ctx: outlast.SyncContext) -> None:
    def price(amount: int) -> float:
        return 1.0

    reveal_type(ctx.step.run("d", price, 1))
"""


def test_step_run_has_the_type_of_its_function(tmp_path: Path) -> None:
    path = tmp_path / "snippet.py"
    path.write_text(SNIPPET)
    # The project's cache: warm after the type check that runs before the tests.
    out, err, _ = api.run(
        ["--strict", "--cache-dir", str(ROOT / ".mypy_cache"), "--no-error-summary", str(path)]
    )
    found = [line.split(": ", 1)[1] for line in out.splitlines() if ": " in line]
    revealed = [line for line in found if line.startswith("note: Revealed type")]
    assert revealed == [
        'note: Revealed type is "str"',
        'note: Revealed type is "float"',
        'note: Revealed type is "float"',
    ], out + err
    # The call with a wrong argument (line 13) is refused; nothing else is.
    errors = {line.split(":")[1] for line in out.splitlines() if ": error:" in line}
    assert errors == {"13"}, out + err
