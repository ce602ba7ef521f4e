"""The three PATCH body formats the apiserver applies to a stored object.

* `json_patch` - RFC 6902 (`application/json-patch+json`)
* `merge_patch` - RFC 7386 (`application/merge-patch+json`)
* `strategic_merge_patch` - Kubernetes strategic merge patch (`application/strategic-merge-patch+json`)

All are pure functions over JSON dicts: they return a new object and never modify their arguments.
Failures are `kijabi.machinery.errors.StatusError`s with the codes upstream's apiserver uses, except that
kijabi never answers 500: where upstream would, these functions raise 422 Invalid with upstream's text.
"""

from kijabi.machinery.patch.jsonpatch import MAX_COPY_BYTES, MAX_OPERATIONS, json_patch
from kijabi.machinery.patch.merge import merge_patch
from kijabi.machinery.patch.strategic import strategic_merge_patch

__all__ = ["MAX_COPY_BYTES", "MAX_OPERATIONS", "json_patch", "merge_patch", "strategic_merge_patch"]
