"""Server-side Table output: what `kubectl get` prints, computed by the apiserver.

    printer_for(group, resource)   the upstream printer of a built-in resource (or the default table)
    crd_printer(columns)           a custom resource version's additionalPrinterColumns
    table(printer, objects, ...)   the meta.k8s.io/v1 Table body for a list, a GET or a watch event
    human_duration(seconds)        upstream's duration.HumanDuration (`5m3s`, `2d3h`, `3y`)
    translate_timestamp_since(ts, now)  an age cell; `<unknown>` when the timestamp is unset

Pure code: every function takes the current time (`now`, Unix seconds) from its caller.
"""

from kijabi.machinery.printers._base import Printer
from kijabi.machinery.printers._format import human_duration
from kijabi.machinery.printers._format import since as translate_timestamp_since
from kijabi.machinery.printers.generic import crd_printer
from kijabi.machinery.printers.registry import default_printer, has_printer, printer_for
from kijabi.machinery.printers.table import check_include_object, table

__all__ = [
    "Printer",
    "check_include_object",
    "crd_printer",
    "default_printer",
    "has_printer",
    "human_duration",
    "printer_for",
    "table",
    "translate_timestamp_since",
]
