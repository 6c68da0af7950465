"""Order-insensitive writes of projection documents.

A projection document contains groups of fields, each with its own version (see
`project_fields.version_of`). Merging data into a group replaces the group only when the new
version sorts at least as high as the stored one, so notifications applied in any order and
any number of times give the same document.

Writes are compare-and-swap on a `revision` counter. A write reads the document, merges in
memory, then inserts it or replaces it where the revision is unchanged. A duplicate key on
insert means a concurrent writer created it first, and no match on replace means a
concurrent writer changed it. Either conflict repeats the read and merge, so concurrent
upserts never lose an update.

NOTE: whole-document writes are used instead of `$set` because nx-27017 0.8.1 stores a
datetime written with `$set` as a string, and the read model needs real datetimes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

__all__ = ["ProjectionConflictError", "apply_group", "merge_document"]

# Rounds of read, merge and write before giving up on a document that keeps changing.
MAX_WRITE_ROUNDS = 8

Document = dict[str, Any]


class ProjectionConflictError(Exception):
    """Raised when concurrent writers changed a document on every round; the notification is retried."""


def apply_group(document: Document, version_field: str, version: str, values: dict[str, Any]) -> bool:
    """Set `values` and the version on `document` unless its stored version sorts higher."""
    stored = document.get(version_field)
    if isinstance(stored, str) and stored > version:
        return False
    document.update(values)
    document[version_field] = version
    return True


async def merge_document(
    collection: AsyncCollection, key: dict[str, Any], merge: Callable[[Document], None]
) -> bool:
    """Merge into the document with `key` (created from `key` when missing); return whether it changed.

    `merge` changes the document it is given in place, typically through `apply_group`.
    """
    for _ in range(MAX_WRITE_ROUNDS):
        stored = await collection.find_one(key)
        document = copy.deepcopy(stored) if stored else dict(key)
        merge(document)
        if stored is not None and document == stored:
            return False

        revision = stored.get("revision") if stored else None
        document["revision"] = (revision or 0) + 1
        if stored is None:
            try:
                await collection.insert_one(document)
                return True
            except DuplicateKeyError:
                continue
        result = await collection.replace_one({"_id": stored["_id"], "revision": revision}, document)
        if result.matched_count:
            return True

    raise ProjectionConflictError(
        f"{collection.name} document {key} changed on each of {MAX_WRITE_ROUNDS} write rounds; it will be retried"
    )
