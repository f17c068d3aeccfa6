"""Model files: a tree as YAML, TOML or JSON, read safely and written back exactly.

One schema for the three formats (docs/model-files.md is the reference)::

    tree: qualified_leads                 # the top metric(s), optional; text or a list
    description: free text                # optional, for the reader of the file
    kpis:
      leads: {owner: marketing, horizon: 1 day, value: 1000, unit: lead}
    inputs:
      market_size: {value: 2000000}
    metrics:
      qualified_leads: leads * lead_to_ql                     # short form: the formula
      share: {formula: qualified_leads / market_size, unit: "%"}   # long form

This module is the front of the three that do the work: `kpitree.io.documents` reads text
safely into a `Document` (data, the line of every key, problems), `kpitree.io.schema`
builds the tree from it, and `kpitree.io.writers` writes a tree back.

Every problem of a file is collected and raised at once as one `ValidationError`; each
problem says where it is (`model.yaml:4 @ $.kpis.leads.owner`), what is wrong, and a hint
(a did-you-mean for unknown keys and names, a caret under the bad token of a formula).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kpitree.io.documents import (
    FORMATS,
    Document,
    format_for,
    iter_problems,
    path_text,
    read_document,
    read_text,
)
from kpitree.io.schema import LEAF_FIELDS, LeafField, build
from kpitree.io.writers import dump, dumps, to_dict
from kpitree.language.limits import DEFAULT_LIMITS, Limits
from kpitree.model.graph import Graph

__all__ = [
    "FORMATS",
    "LEAF_FIELDS",
    "Document",
    "LeafField",
    "dump",
    "dumps",
    "format_for",
    "from_dict",
    "iter_problems",
    "load",
    "loads",
    "path_text",
    "read_document",
    "read_text",
    "to_dict",
]


def loads(
    text: str,
    format: str = "yaml",  # noqa: A002 - the model-file format name
    *,
    source: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Graph:
    r"""Read a tree from model-file text in `yaml`, `toml` or `json`.

    Args:
        text: the file's text.
        format: `"yaml"` (also `"yml"`), `"toml"` or `"json"`.
        source: the file name used in messages; `<text>` when None.
        limits: safety limits; `max_file_bytes` applies to the text.

    Raises:
        ValidationError: every problem of the file, each located (`file:line @ $.path`).
        UnknownNameError: an unknown format.

    Examples:
        >>> import kpitree as kt
        >>> tree = kt.loads('''
        ... kpis:
        ...   leads: {owner: marketing, horizon: 1 day, value: 1000}
        ...   rate: {owner: sales, horizon: 1 day, value: 80%}
        ... metrics:
        ...   qualified_leads: leads * rate
        ... ''')
        >>> tree.evaluate()["qualified_leads"]
        800.0
        >>> kt.loads("kpis:\n  leads: {owner: marketing, horizon: 1 dya}\n")
        Traceback (most recent call last):
        ...
        kpitree.errors.ValidationError: 1 problem found:
          - <text>:2 @ $.kpis.leads.horizon: cannot read horizon "1 dya": ...
            hint: did you mean `day`?
    """
    with _gc_paused():
        return build(read_document(text, format, source=source, limits=limits))


def load(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> Graph:
    """Read a tree from a model file; the format follows the extension.

    Raises:
        ValidationError: every problem of the file, each located (`file:line @ $.path`).
        UnknownNameError: the extension is not `.yaml`, `.yml`, `.toml` or `.json`.
        OSError: the file cannot be read.

    Examples:
        >>> import kpitree as kt
        >>> tree = kt.load("examples/qualified_leads.yaml")
        >>> tree.evaluate()["qualified_leads"]
        800.0
    """
    return loads(*read_text(path, limits), source=str(path), limits=limits)


def from_dict(data: Mapping[str, Any]) -> Graph:
    """Build a tree from model-file data (`kpis`, `inputs`, `metrics`, optional `tree`).

    Raises:
        ValidationError: every problem, each with its `$.path`.

    Examples:
        >>> import kpitree as kt
        >>> tree = kt.Tree.from_dict({
        ...     "kpis": {"leads": {"owner": "marketing", "horizon": "1 day", "value": 10}},
        ...     "metrics": {"double": "2 * leads"},
        ... })
        >>> tree.evaluate()["double"]
        20.0
    """
    with _gc_paused():
        return build(Document(data=data))


_gc_lock = threading.Lock()
_gc_readers = 0  # readers running now; the first pauses the collector, the last resumes it
_gc_resume = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a model is read, and resume it after.

    Reading a large model makes hundreds of thousands of small objects, none of them
    garbage, and each full collection walks every object of the process again: with a
    big tree already in memory that is half the time of reading another. Reference
    counting still frees everything as usual; the collector runs again, as it was set, as
    soon as the last reader is done, also when reading raises. A collector paused by the
    program itself stays paused.
    """
    global _gc_readers, _gc_resume
    with _gc_lock:
        if _gc_readers == 0:
            _gc_resume = gc.isenabled()
            gc.disable()
        _gc_readers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_readers -= 1
            if _gc_readers == 0 and _gc_resume:
                gc.enable()
