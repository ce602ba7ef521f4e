"""Jobs and CronJobs: restart policies of job templates, counts, completion modes, pod failure and
success policies, generated selectors, immutable fields, cron schedules and time zones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kijabi.machinery import cron as _cron
from tests.machinery.validation.validation_messages import NEGATIVE
from tests.machinery.validation.validation_objects import (
    BUILDERS,
    DELETE,
    JOB_UID,
    edit,
    errors_of,
    run,
    stored,
)

INVALID, REQUIRED, FORBIDDEN, UNSUPPORTED = (
    "FieldValueInvalid",
    "FieldValueRequired",
    "FieldValueForbidden",
    "FieldValueNotSupported",
)
DUPLICATE = "FieldValueDuplicate"
T = "spec.template.spec"
JT = "spec.jobTemplate.spec"


def e(*pairs: tuple[str, Any]) -> Callable[[dict[str, Any]], None]:
    def apply(obj: dict[str, Any]) -> None:
        for path, value in pairs:
            edit(obj, path, value)

    return apply


JOB_CASES = [
    pytest.param(
        e((f"{T}.restartPolicy", "Always")),
        [(REQUIRED, f"{T}.restartPolicy", 'valid values: "OnFailure", "Never"')],
        id="restart-always",
    ),
    pytest.param(e(("spec.parallelism", -1)), [(INVALID, "spec.parallelism", NEGATIVE)], id="parallelism"),
    pytest.param(e(("spec.completions", -1)), [(INVALID, "spec.completions", NEGATIVE)], id="completions"),
    pytest.param(
        e(("spec.backoffLimit", -1)), [(INVALID, "spec.backoffLimit", NEGATIVE)], id="backoff-limit"
    ),
    pytest.param(
        e(("spec.completionMode", "Sometimes")),
        [(UNSUPPORTED, "spec.completionMode", 'supported values: "NonIndexed", "Indexed"')],
        id="completion-mode",
    ),
    pytest.param(
        e(("spec.completionMode", "Indexed"), ("spec.completions", DELETE)),
        [(REQUIRED, "spec.completions", "when completion mode is Indexed")],
        id="indexed-needs-completions",
    ),
    pytest.param(
        e(("spec.backoffLimitPerIndex", 1)),
        [(INVALID, "spec.backoffLimitPerIndex", "requires indexed completion mode")],
        id="per-index-needs-indexed",
    ),
    pytest.param(
        e(("spec.template.metadata.labels.job-name", "other")),
        [(INVALID, "spec.template.metadata.labels[job-name]", "must be 'pi'")],
        id="generated-label-wrong",
    ),
    pytest.param(
        e(("spec.template.metadata.labels", {"app": "x"}), ("spec.selector", {"matchLabels": {"app": "x"}})),
        [
            (REQUIRED, "spec.template.metadata.labels[controller-uid]", f"must be '{JOB_UID}'"),
            (REQUIRED, "spec.template.metadata.labels[job-name]", "must be 'pi'"),
            (
                REQUIRED,
                "spec.template.metadata.labels[batch.kubernetes.io/controller-uid]",
                f"must be '{JOB_UID}'",
            ),
            (REQUIRED, "spec.template.metadata.labels[batch.kubernetes.io/job-name]", "must be 'pi'"),
            (INVALID, "spec.selector", "`selector` not auto-generated"),
        ],
        id="generated-selector-missing",
    ),
    pytest.param(
        e(("spec.manualSelector", True), ("spec.selector", {"matchLabels": {"app": "other"}})),
        [(INVALID, "spec.template.metadata.labels", "`selector` does not match template `labels`")],
        id="manual-selector-mismatch",
    ),
    pytest.param(
        e(
            (
                "spec.podFailurePolicy",
                {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0, 3, 2]}}]},
            ),
            ("spec.podReplacementPolicy", "Failed"),
        ),
        [
            (
                INVALID,
                "spec.podFailurePolicy.rules[0].onExitCodes.values[0]",
                "must not be 0 for the In operator",
            ),
            (INVALID, "spec.podFailurePolicy.rules[0].onExitCodes.values", "must be ordered"),
        ],
        id="pod-failure-policy-exit-codes",
    ),
    pytest.param(
        e(
            ("spec.podFailurePolicy", {"rules": [{"action": "Ignore"}]}),
            ("spec.podReplacementPolicy", "Failed"),
        ),
        [
            (
                INVALID,
                "spec.podFailurePolicy.rules[0]",
                "specifying one of OnExitCodes and OnPodConditions is required",
            )
        ],
        id="pod-failure-policy-empty-rule",
    ),
    pytest.param(
        e(
            (
                "spec.podFailurePolicy",
                {
                    "rules": [
                        {
                            "action": "Ignore",
                            "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                        }
                    ]
                },
            ),
            ("spec.podReplacementPolicy", "TerminatingOrFailed"),
        ),
        [(UNSUPPORTED, "spec.podReplacementPolicy", 'supported values: "Failed"')],
        id="replacement-policy-with-failure-policy",
    ),
    pytest.param(
        e(("spec.successPolicy", {"rules": [{"succeededCount": 1}]})),
        [(INVALID, "spec.successPolicy", "requires indexed completion mode")],
        id="success-policy-needs-indexed",
    ),
    pytest.param(
        e(
            ("spec.completionMode", "Indexed"),
            ("spec.completions", 3),
            ("spec.successPolicy", {"rules": [{"succeededIndexes": "0-5"}]}),
        ),
        [
            (
                INVALID,
                "spec.successPolicy.rules[0].succeededIndexes",
                'error parsing succeededIndexes: too large index: "5"',
            )
        ],
        id="success-policy-indexes",
    ),
    pytest.param(
        e(("spec.managedBy", "kueue")),
        [(INVALID, "spec.managedBy", 'must be a domain-prefixed path (such as "acme.io/foo")')],
        id="managed-by",
    ),
    pytest.param(
        lambda job: (
            _rename(job, "a" * 62)
            or edit(edit(job, "spec.completionMode", "Indexed"), "spec.completions", 10)
        ),
        [(INVALID, "metadata.name", f"will not able to create pod with invalid DNS label: {'a' * 62}-9")],
        id="indexed-hostname-too-long",
    ),
]


def _rename(job: dict[str, Any], name: str) -> None:
    """Rename a Job and keep its generated labels consistent."""
    job["metadata"]["name"] = name
    for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
        labels["job-name"] = labels["batch.kubernetes.io/job-name"] = name


@pytest.mark.parametrize(("mutate", "expected"), JOB_CASES)
def test_job_create_rule(
    mutate: Callable[[dict[str, Any]], None], expected: list[tuple[str, str, str]]
) -> None:
    assert run("Job", mutate) == expected


def test_job_template_and_selector_are_immutable() -> None:
    old = stored(BUILDERS["Job"]())
    new = edit(stored(BUILDERS["Job"]()), f"{T}.containers[0].image", "busybox")
    assert errors_of("Job", new, old) == [(INVALID, "spec.template", "field is immutable")]


def test_suspended_job_that_never_started_may_change_scheduling_directives() -> None:
    old = edit(stored(BUILDERS["Job"]()), "spec.suspend", True)
    new = edit(edit(stored(BUILDERS["Job"]()), "spec.suspend", True), f"{T}.nodeSelector", {"zone": "a"})
    assert errors_of("Job", new, old) == []
    started = edit(
        edit(stored(BUILDERS["Job"]()), "spec.suspend", True), "status.startTime", "2025-01-01T00:00:00Z"
    )
    assert errors_of("Job", new, started) == [(INVALID, "spec.template", "field is immutable")]


def test_indexed_job_completions_change_with_parallelism() -> None:
    def indexed(completions: int, parallelism: int) -> dict[str, Any]:
        obj = stored(BUILDERS["Job"]())
        obj["spec"] |= {"completionMode": "Indexed", "completions": completions, "parallelism": parallelism}
        return obj

    assert errors_of("Job", indexed(5, 5), indexed(3, 3)) == []
    assert errors_of("Job", indexed(5, 3), indexed(3, 3)) == [
        (INVALID, "spec.completions", "can only be modified in tandem with spec.parallelism")
    ]
    non_indexed_old, non_indexed_new = (
        stored(BUILDERS["Job"]()),
        edit(stored(BUILDERS["Job"]()), "spec.completions", 4),
    )
    assert errors_of("Job", non_indexed_new, non_indexed_old) == [
        (INVALID, "spec.completions", "field is immutable")
    ]


CRON_CASES = [
    pytest.param(e(("spec.schedule", "")), [(REQUIRED, "spec.schedule", "")], id="schedule-required"),
    pytest.param(
        e(("spec.schedule", "61 * * * *")),
        [(INVALID, "spec.schedule", "end of range (61) above maximum (59): 61")],
        id="schedule-range",
    ),
    pytest.param(
        e(("spec.schedule", "* * * *")),
        [(INVALID, "spec.schedule", "expected exactly 5 fields, found 4: [* * * *]")],
        id="schedule-fields",
    ),
    pytest.param(
        e(("spec.schedule", "CRON_TZ=UTC 0 * * * *")),
        [(INVALID, "spec.schedule", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")],
        id="schedule-tz",
    ),
    pytest.param(e(("spec.schedule", "@hourly")), [], id="schedule-descriptor"),
    pytest.param(e(("spec.timeZone", "Europe/Berlin")), [], id="time-zone-ok"),
    pytest.param(
        e(("spec.timeZone", "Mars/Olympus")),
        [(INVALID, "spec.timeZone", "unknown time zone Mars/Olympus")],
        id="time-zone-unknown",
    ),
    pytest.param(
        e(("spec.timeZone", "Local")),
        [
            (
                INVALID,
                "spec.timeZone",
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            )
        ],
        id="time-zone-local",
    ),
    pytest.param(
        e(("spec.timeZone", "")),
        [(INVALID, "spec.timeZone", "timeZone must be nil or non-empty string")],
        id="time-zone-empty",
    ),
    pytest.param(
        e(("spec.concurrencyPolicy", "Sometimes")),
        [(UNSUPPORTED, "spec.concurrencyPolicy", 'supported values: "Allow", "Forbid", "Replace"')],
        id="concurrency-policy",
    ),
    pytest.param(
        e(("metadata.name", "n" * 53)),
        [(INVALID, "metadata.name", "must be no more than 52 characters")],
        id="name-length",
    ),
    pytest.param(
        e((f"{JT}.template.spec.restartPolicy", "Always")),
        [(REQUIRED, f"{JT}.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"')],
        id="job-template-restart-policy",
    ),
    pytest.param(
        e((f"{JT}.selector", {"matchLabels": {"a": "b"}})),
        [(INVALID, f"{JT}.selector", "`selector` will be auto-generated")],
        id="job-template-selector",
    ),
    pytest.param(
        e(("spec.successfulJobsHistoryLimit", -1)),
        [(INVALID, "spec.successfulJobsHistoryLimit", NEGATIVE)],
        id="history-limit",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), CRON_CASES)
def test_cron_job_create_rule(
    mutate: Callable[[dict[str, Any]], None], expected: list[tuple[str, str, str]]
) -> None:
    assert run("CronJob", mutate) == expected


def test_cron_job_long_name_allowed_on_update() -> None:
    old = edit(stored(BUILDERS["CronJob"]()), "metadata.name", "n" * 53)
    assert errors_of("CronJob", edit(stored(BUILDERS["CronJob"]()), "metadata.name", "n" * 53), old) == []


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        pytest.param("*/15 0-6 1,15 jan-jun mon-fri", "", id="ranges-steps-names"),
        pytest.param("@every 1h30m", "", id="every"),
        pytest.param(
            "@every 5",
            'failed to parse duration @every 5: time: missing unit in duration "5"',
            id="every-no-unit",
        ),
        pytest.param("@fortnightly", "unrecognized descriptor: @fortnightly", id="descriptor"),
        pytest.param("*/0 * * * *", "step of range should be a positive number: */0", id="zero-step"),
        pytest.param("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1", id="reversed"),
        pytest.param("0 0 0 * *", "beginning of range (0) below minimum (1): 0", id="day-zero"),
        pytest.param("1-2-3 * * * *", "too many hyphens: 1-2-3", id="hyphens"),
        pytest.param("1/2/3 * * * *", "too many slashes: 1/2/3", id="slashes"),
        pytest.param(
            "x * * * *",
            'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax',
            id="not-a-number",
        ),
        pytest.param("", "empty spec string", id="empty"),
    ],
)
def test_cron_parser_messages(schedule: str, error: str) -> None:
    assert _cron.parse_error(schedule) == error
