"""Writer process for the kill -9 test: writes forever through SQLiteStorage and prints one line per
acknowledged write ("<op> <key> <mod_revision>"), flushed, right after the store acknowledged it."""

from __future__ import annotations

import asyncio
import sys

from kijabi.storage.sqlite import SQLiteStorage

WRITERS = 16


async def main(path: str) -> None:
    async with SQLiteStorage(path, compact_interval=0) as store:

        async def creator(w: int) -> None:
            i = 0
            while True:
                key = f"/registry/pods/crash/w{w}-{i}"
                kv = await store.create(key, key.encode() * 20)
                print(f"create {key} {kv.mod_revision}", flush=True)
                i += 1

        async def updater() -> None:
            key = "/registry/leases/crash/counter"
            kv = await store.create(key, b"0")
            print(f"update {key} {kv.mod_revision}", flush=True)
            while True:
                kv = await store.update(
                    key, str(int(kv.value) + 1).encode(), expected_revision=kv.mod_revision
                )
                print(f"update {key} {kv.mod_revision}", flush=True)

        await asyncio.gather(updater(), *(creator(w) for w in range(WRITERS)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
