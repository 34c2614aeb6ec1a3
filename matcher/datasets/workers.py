"""Worker processes for big imports: each takes units of work (files, parquet row groups),
encodes them to COPY text (matcher.datasets.copy_text, or a format's fast encoder) and sends
the chunks back to the importer, which alone writes them inside the import's transaction.

No Django here: the workers are started with "spawn" and import only this module, the readers,
the encoders and the engine.
"""

from __future__ import annotations

import multiprocessing
import os
import queue as queue_module
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from matcher.datasets.base import DatasetFormatError, Unit
from matcher.datasets.copy_text import QUEUE_CHUNKS, Chunk, IdAllocator, Target, encode, reserve_ids
from matcher.datasets.registry import FORMATS


def plan_units(file_format: str, paths: Sequence[Path]) -> list[Unit]:
    """Independent pieces of work, as the format splits them (row groups, files...)."""
    return FORMATS[file_format].plan(file_format, paths)


def encode_unit(unit: Unit, target: Target, allocate: IdAllocator) -> Iterator[Chunk]:
    """The chunks of one unit of work: through the format's fast encoder where it has one
    (LAION row groups, column by column), record by record otherwise."""
    fmt = FORMATS[unit[0]]
    if fmt.encode_unit is not None:
        yield from fmt.encode_unit(unit, target, allocate)
    else:
        yield from encode(fmt.read_unit(unit), target, allocate)


def _worker(conninfo: dict[str, Any], target: Target, todo: Any, out: Any, index: int) -> None:
    """One worker process: take units from `todo` until None, put their chunks on `out`."""
    try:
        import psycopg

        with psycopg.connect(**conninfo, autocommit=True) as conn:

            def allocate(seq: str, n: int) -> range:
                return reserve_ids(conn.execute, seq, n)

            while (unit := todo.get()) is not None:
                for chunk in encode_unit(unit, target, allocate):
                    out.put(("chunk", chunk))
        out.put(("done", index))
    except DatasetFormatError as exc:
        out.put(("format-error", str(exc)))
    except BaseException:  # the importer must hear of it, or it would wait forever
        out.put(("error", traceback.format_exc()))


def parallel_chunks(
    *, conninfo: dict[str, Any], target: Target, units: list[Unit], workers: int
) -> Iterator[Chunk]:
    """Encode `units` in `workers` spawned processes; yields chunks as they come back.

    Workers take the next unit when done with one, so uneven row groups even out. The output
    queue is bounded: a worker waits when the importer (COPY) is behind.
    """
    # Arrow's allocator (docs/benchmarks.md, Normalization): reading and normalizing 1M LAION
    # rows peaked at 150 MB with jemalloc, 172 MB with the system allocator; after 393k rows
    # mimalloc (the wheel's default) held 223 MB where jemalloc held 184 MB. The variable must
    # be set before pyarrow is imported, which this module's imports do: so it is set here, in
    # the environment the spawned workers start with. pyarrow falls back to its default, with a
    # warning, where jemalloc is not built in.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue(maxsize=QUEUE_CHUNKS)
    todo = ctx.Queue()
    for unit in units:
        todo.put(unit)
    for _ in range(workers):
        todo.put(None)
    procs = [
        ctx.Process(
            target=_worker,
            args=(conninfo, target, todo, out, i),
            name=f"trainwatch-import-{i}",
            daemon=True,
        )
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    running = len(procs)
    try:
        while running:
            try:
                kind, payload = out.get(timeout=5)
            except queue_module.Empty:
                if not any(proc.is_alive() for proc in procs):
                    raise RuntimeError("import workers exited without finishing") from None
                continue
            if kind == "chunk":
                yield payload
            elif kind == "done":
                running -= 1
            elif kind == "format-error":
                raise DatasetFormatError(payload)
            else:
                raise RuntimeError(f"an import worker failed:\n{payload}")
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=10)
        for q in (out, todo):
            q.close()
            q.cancel_join_thread()
