"""SQL lives in `.sql` files next to the code that runs it; this loads a folder of them."""

from __future__ import annotations

from pathlib import Path


class SqlFiles:
    """The `.sql` files of one folder, by stem: `SqlFiles(path)["outbox_claim"]`."""

    def __init__(self, directory: Path) -> None:
        """Read every `*.sql` file in `directory` once, at start-up."""
        self._queries = {path.stem: path.read_text() for path in directory.glob("*.sql")}
        if not self._queries:
            msg = f"no .sql files in {directory}"
            raise FileNotFoundError(msg)

    def __getitem__(self, name: str) -> str:
        """The text of `<name>.sql`; KeyError names the missing file."""
        try:
            return self._queries[name]
        except KeyError:
            msg = f"{name}.sql"
            raise KeyError(msg) from None
