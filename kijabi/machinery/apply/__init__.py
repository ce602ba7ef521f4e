"""Server-side apply and managedFields: field sets, the apply merge, and ownership bookkeeping.

Modules, bottom up:

    gojson      Go-compatible JSON text (FieldsV1 keys, last-applied annotation, messages)
    fieldpath   FieldSet: the trie of owned paths and its FieldsV1 wire form
    typed       objects read through a Schema: to-set, compare, merge, remove, validate
    merge       the per-write ownership algorithm (structured-merge-diff's Updater)
    manager     metadata.managedFields on writes and server-side apply (apimachinery's wrappers)
    scale       replicas ownership between a resource and its /scale subresource

Everything here is pure: inputs are never modified, nothing does I/O.
"""

from kijabi.machinery.apply.fieldpath import FieldSet, FieldsV1Error, Path, path_string
from kijabi.machinery.apply.manager import (
    BEFORE_FIRST_APPLY,
    LAST_APPLIED_ANNOTATION,
    ManagedFieldsError,
    apply,
    build_last_applied,
    conflict_error,
    decode_managed_fields,
    encode_managed_fields,
    fieldset_of,
    manager_from_user_agent,
    manager_id,
    manager_or_user_agent,
    update_managed_fields,
)
from kijabi.machinery.apply.merge import Conflict, ConflictError, VersionedSet
from kijabi.machinery.apply.scale import to_parent as scale_to_parent
from kijabi.machinery.apply.scale import to_subresource as scale_to_subresource
from kijabi.machinery.apply.typed import Comparison, compare, merge, to_set, validate

__all__ = [
    "BEFORE_FIRST_APPLY",
    "LAST_APPLIED_ANNOTATION",
    "Comparison",
    "Conflict",
    "ConflictError",
    "FieldSet",
    "FieldsV1Error",
    "ManagedFieldsError",
    "Path",
    "VersionedSet",
    "apply",
    "build_last_applied",
    "compare",
    "conflict_error",
    "decode_managed_fields",
    "encode_managed_fields",
    "fieldset_of",
    "manager_from_user_agent",
    "manager_id",
    "manager_or_user_agent",
    "merge",
    "path_string",
    "scale_to_parent",
    "scale_to_subresource",
    "to_set",
    "update_managed_fields",
    "validate",
]
