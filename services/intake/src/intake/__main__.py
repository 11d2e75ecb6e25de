"""`python -m intake`: run the service, or an operator's vault command.

Settings come from DURCHSTARTEN_* variables, as for the service.

- (no command): run the intake service;
- `vault-keys`: how many participant keys each master key wraps;
- `rotate-vault-key [--batch-size N]`: re-wrap every key by the current master key
  (resumable; see `intake.rotation`);
- `blind-index-key`: print the blind-index key derived from the vault key, to set as
  DURCHSTARTEN_BLIND_INDEX_KEY before the first rotation (keeps every index token valid).
"""

import argparse
import asyncio
import json
import sys

from durchstarten.runner import run_service
from intake.app import create_app
from intake.keystore import KeyStore
from intake.rotation import RotationRefused, rotate
from intake.settings import IntakeSettings
from intake.vault import UnknownVaultKey, derived_index_key


async def _vault_command(command: str, settings: IntakeSettings, batch_size: int) -> int:
    keys = KeyStore(settings.key_store_url.get_secret_value(), max_size=2)
    await keys.open()
    try:
        if command == "vault-keys":
            in_use = await keys.keys_by_master()
            print(json.dumps({"current": settings.vault_key_id, "keys": in_use}))
            return 0
        try:
            done = await rotate(keys, settings.vault(), batch_size=batch_size)
        except (RotationRefused, UnknownVaultKey) as refused:
            print(f"refused: {refused}", file=sys.stderr)
            return 2
        print(json.dumps({"rewrapped": done.rewrapped, "remaining": done.remaining}))
        return 0 if not done.remaining else 1
    finally:
        await keys.close()


def main(argv: list[str] | None = None) -> int:
    """Run the service or one of the vault commands."""
    parser = argparse.ArgumentParser(prog="python -m intake")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("vault-keys", help="participant keys per master key")
    rotation = sub.add_parser("rotate-vault-key", help="re-wrap every key by the current one")
    rotation.add_argument("--batch-size", type=int, default=500)
    sub.add_parser("blind-index-key", help="the blind-index key derived from the vault key")
    parser.set_defaults(batch_size=500)
    args = parser.parse_args(argv)
    settings = IntakeSettings()
    if args.command is None:
        run_service(create_app, settings)
        return 0
    if args.command == "blind-index-key":
        print(derived_index_key(settings.vault_key.get_secret_value()))  # for the operator
        return 0
    return asyncio.run(_vault_command(args.command, settings, args.batch_size))


if __name__ == "__main__":
    sys.exit(main())
