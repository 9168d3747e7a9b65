"""The runbook model and evaluation rules the lint and the sandbox's engine share."""

from __future__ import annotations

from typing import Any

import pytest

from drift_repair.core.errors import InputError
from drift_repair.core.runbook import (
    ParameterSpec,
    UnresolvedReferenceError,
    parse_runbook,
    reference_kind,
    resolve,
)
from drift_repair.core.runbook_eval import (
    BranchError,
    OutputTypeError,
    ParameterError,
    SelectorError,
    bind_parameters,
    choose_branch,
    convert_output,
    display_values,
    parse_duration,
    parse_timestamp,
    property_matches,
    select,
    select_one,
)

RUNBOOK = """
schemaVersion: '0.3'
parameters:
  Name: {type: String, allowedPattern: '^[a-z]+$'}
mainSteps:
  - name: a
    action: aws:sleep
    inputs: {Duration: PT1S}
  - name: b
    action: aws:executeAwsApi
    onFailure: Continue
    inputs: {Service: s3, Api: ListBuckets}
    isEnd: true
  - name: c
    action: aws:branch
    inputs:
      Choices: [{NextStep: a, Variable: '{{ Name }}', StringEquals: x}]
      Default: b
"""


def test_parse_resolves_aws_defaults() -> None:
    runbook = parse_runbook(RUNBOOK, "r.yaml")
    a, b, c = runbook.steps
    assert (a.on_failure, a.is_critical, a.max_attempts, a.timeout_seconds) == ("Abort", True, 1, None)
    assert (b.on_failure, b.is_critical) == ("Continue", False)  # Continue makes isCritical default false
    assert runbook.next_on_success(a) == "b"
    assert runbook.next_on_success(b) is None  # isEnd
    assert runbook.flow_targets(c) == ["a", "b"]
    assert runbook.parameters["Name"].required


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("schemaVersion: '2.2'\nmainSteps: [{name: a, action: aws:sleep}]", "schemaVersion must be '0.3'"),
        ("schemaVersion: '0.3'\nmainSteps: []", "mainSteps must be a non-empty list"),
        ("schemaVersion: '0.3'\nmainSteps: [{action: aws:sleep}]", "mainSteps[0] has no name"),
        ("schemaVersion: '0.3'\nmainSteps: [{name: a, action: aws:sleep, maxAttempts: 0}]", "at least 1"),
        ("schemaVersion: '0.3'\nparameters: {P: {type: Float}}\nmainSteps: [{name: a, action: x}]", "unknown type"),
        ("- not a mapping", "a runbook is a mapping"),
    ],
)
def test_parse_refuses_what_cannot_run(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=None) as err:
        parse_runbook(text, "r.yaml")
    assert problem in str(err.value)
    assert str(err.value).startswith("r.yaml: ")


def test_reference_kinds() -> None:
    assert reference_kind("Bucket") == "parameter"
    assert reference_kind("step.Output") == "output"
    assert reference_kind("global:REGION") == "variable"
    assert reference_kind("automation:EXECUTION_ID") == "variable"
    assert reference_kind("ssm:/my/param") == "ssm"
    assert reference_kind("global:NOPE") == "unknown-variable"


def test_resolve_keeps_types_splices_lists_and_interpolates() -> None:
    values: dict[str, Any] = {"N": 7, "Ids": ["i-1", "i-2"], "On": True, "Name": "web"}

    def lookup(name: str) -> Any:
        if name not in values:
            raise UnresolvedReferenceError(name)
        return values[name]

    assert resolve("{{ N }}", lookup) == 7
    assert resolve("{{N}}", lookup) == 7
    assert resolve(["{{ Ids }}", "i-3"], lookup) == ["i-1", "i-2", "i-3"]
    assert resolve({"k": "{{ On }}", "t": "{{ Name }}-{{ N }}-{{ On }}"}, lookup) == {"k": True, "t": "web-7-true"}
    with pytest.raises(UnresolvedReferenceError):
        resolve("x {{ Missing }}", lookup)


# ------------------------------------------------------------------------------------ parameters

SPECS = {
    "Name": ParameterSpec("Name", "String", allowed_pattern="^[a-z]+$"),
    "Mode": ParameterSpec("Mode", "String", has_default=True, default="fix", allowed_values=("fix", "check")),
    "Count": ParameterSpec("Count", "Integer", has_default=True, default=3),
    "On": ParameterSpec("On", "Boolean", has_default=True, default=False),
    "Ids": ParameterSpec("Ids", "StringList", has_default=True, default=[], max_items=2),
    "Tags": ParameterSpec("Tags", "StringMap", has_default=True, default={}),
    "Role": ParameterSpec("Role", "AWS::IAM::Role::Arn", has_default=True, default=""),
}


def test_bind_parameters_types_values_and_defaults() -> None:
    bound = bind_parameters(
        SPECS, {"Name": ["web"], "Count": ["12"], "On": ["TRUE"], "Ids": ["a", "b"], "Tags": ['{"k": "v"}']}
    )
    assert bound.values == {
        "Name": "web",
        "Mode": "fix",
        "Count": 12,
        "On": True,
        "Ids": ["a", "b"],
        "Tags": {"k": "v"},
        "Role": "",
    }
    assert bound.display["On"] == ["true"]
    assert bound.display["Count"] == ["12"]
    assert bound.display["Tags"] == ['{"k":"v"}']


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "Missing required parameter: Name in user inputs."),
        ({"Name": ["web"], "Other": ["x"]}, 'Parameter "Other" is not defined in the document.'),
        ({"Name": ["Web"]}, 'Parameter "Name" has value "Web" not matching "^[a-z]+$".'),
        ({"Name": ["web"], "Mode": ["both"]}, 'Parameter "Mode" has value "both" not found in [fix, check].'),
        ({"Name": ["web"], "Count": ["three"]}, 'Parameter "Count" has value "three" which is not a valid Integer.'),
        ({"Name": ["web"], "On": ["yes"]}, 'Parameter "On" has value "yes" which is not a valid Boolean.'),
        ({"Name": ["a", "b"]}, 'Parameter "Name" of type String takes exactly one value, not 2.'),
        ({"Name": ["web"], "Ids": ["1", "2", "3"]}, 'Parameter "Ids" can have at most 2 items.'),
        ({"Name": ["web"], "Tags": ["[1]"]}, 'Parameter "Tags" has value "[1]" which is not a JSON object.'),
    ],
)
def test_bind_parameters_refuses_like_aws(given: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ParameterError) as err:
        bind_parameters(SPECS, given)
    assert str(err.value) == message


# ------------------------------------------------------------------------------------ selectors and outputs

RESPONSE = {
    "DBInstances": [
        {"DBInstanceIdentifier": "db1", "BackupRetentionPeriod": 0, "Tags": [{"Key": "env", "Value": "dev"}]},
        {"DBInstanceIdentifier": "db2", "BackupRetentionPeriod": 7, "Tags": []},
    ],
    "Flag": False,
    "odd key": 1,
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("$", [RESPONSE]),
        ("$.DBInstances[0].DBInstanceIdentifier", ["db1"]),
        ("$.DBInstances[-1].BackupRetentionPeriod", [7]),
        ("$.DBInstances[*].DBInstanceIdentifier", ["db1", "db2"]),
        ("$.DBInstances.*.BackupRetentionPeriod", [0, 7]),
        ("$..Key", ["env"]),
        ("$['odd key']", [1]),
        ('$["Flag"]', [False]),
        ("$.DBInstances[5].DBInstanceIdentifier", []),
    ],
)
def test_select_the_documented_subset(selector: str, expected: list[Any]) -> None:
    assert select(RESPONSE, selector) == expected


@pytest.mark.parametrize("selector", ["DBInstances", "$.DBInstances[?(@.x)]", "$.a[0:2]", "$.a,b"])
def test_select_refuses_other_syntax(selector: str) -> None:
    with pytest.raises(SelectorError):
        select(RESPONSE, selector)


def test_select_one_is_a_list_for_wildcards() -> None:
    assert select_one(RESPONSE, "$.Flag") == (True, False)
    assert select_one(RESPONSE, "$.Missing") == (False, None)
    assert select_one(RESPONSE, "$.DBInstances[*].BackupRetentionPeriod") == (True, [0, 7])


@pytest.mark.parametrize(
    ("value", "out_type", "expected"),
    [
        ("7", "Integer", 7),
        (7, "String", "7"),
        (True, "String", "true"),
        ("false", "Boolean", False),
        (["only"], "String", "only"),
        ([3], "Integer", 3),
        (5, "StringList", ["5"]),
        (["a", 1], "StringList", ["a", "1"]),
        ({"a": 1}, "StringMap", {"a": 1}),
        ('{"a": 1}', "StringMap", {"a": 1}),
        ([{"a": 1}], "MapList", [{"a": 1}]),
    ],
)
def test_output_type_conversions(value: Any, out_type: str, expected: Any) -> None:
    assert convert_output(value, out_type) == expected


@pytest.mark.parametrize(
    ("value", "out_type"),
    [({"a": 1}, "String"), (True, "Integer"), ("maybe", "Boolean"), (["a", "b"], "String"), ("x", "MapList")],
)
def test_output_type_refusals(value: Any, out_type: str) -> None:
    with pytest.raises(OutputTypeError):
        convert_output(value, out_type)


def test_display_values() -> None:
    assert display_values([{"a": 1}, {"b": 2}]) == ['{"a":1}', '{"b":2}']
    assert display_values(False) == ["false"]


# ------------------------------------------------------------------------------------ branch


def _choose(choice: dict[str, Any], values: dict[str, Any]) -> str | None:
    def resolver(value: Any) -> Any:
        return resolve(value, values.__getitem__)

    return choose_branch({"Choices": [{"NextStep": "yes", **choice}], "Default": "no"}, resolver)


@pytest.mark.parametrize(
    ("operator", "variable", "operand", "expected"),
    [
        ("StringEquals", "abc", "abc", True),
        ("StringEquals", "abc", "ABC", False),
        ("EqualsIgnoreCase", "abc", "ABC", True),
        ("StartsWith", "abcdef", "abc", True),
        ("EndsWith", "abcdef", "xyz", False),
        ("Contains", "abcdef", "cd", True),
        ("Contains", ["a", "b"], "b", True),
        ("NumericEquals", "7", 7, True),
        ("NumericGreater", 8, 7, True),
        ("NumericLesser", 8, 7, False),
        ("NumericGreaterOrEquals", 7, "7", True),
        ("NumericLesserOrEquals", 6.5, 7, True),
        ("BooleanEquals", True, "true", True),
        ("BooleanEquals", "false", True, False),
    ],
)
def test_branch_operators(operator: str, variable: Any, operand: Any, expected: bool) -> None:
    result = _choose({"Variable": "{{ V }}", operator: operand}, {"V": variable})
    assert result == ("yes" if expected else "no")


def test_branch_and_or_not_and_default() -> None:
    values = {"A": "x", "N": 3}
    both = {"And": [{"Variable": "{{ A }}", "StringEquals": "x"}, {"Variable": "{{ N }}", "NumericGreater": 2}]}
    assert _choose(both, values) == "yes"
    either = {"Or": [{"Variable": "{{ A }}", "StringEquals": "y"}, {"Variable": "{{ N }}", "NumericLesser": 2}]}
    assert _choose(either, values) == "no"
    assert _choose({"Not": {"Variable": "{{ A }}", "StringEquals": "y"}}, values) == "yes"
    no_default = choose_branch({"Choices": [{"NextStep": "yes", "Variable": "x", "StringEquals": "y"}]}, lambda v: v)
    assert no_default is None


def test_branch_errors() -> None:
    with pytest.raises(BranchError, match="is not a number"):
        _choose({"Variable": "{{ V }}", "NumericGreater": 1}, {"V": "many"})
    with pytest.raises(BranchError, match="unknown operator"):
        _choose({"Variable": "{{ V }}", "Matches": 1}, {"V": "x"})


# ------------------------------------------------------------------------------------ time and properties


@pytest.mark.parametrize(
    ("text", "seconds"), [("PT10M", 600), ("PT1.5S", 1.5), ("P1DT1H", 90000), ("PT0S", 0), ("P1W", 604800)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10M", "-PT1S", "PT", "P", "PT1H30", "soon"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_timestamps_are_utc() -> None:
    assert parse_timestamp("2020-01-01T01:00:00Z").isoformat() == "2020-01-01T01:00:00+00:00"
    assert parse_timestamp("2020-01-01T10:00:00+09:00").hour == 1


def test_desired_values_compare_python_string_forms() -> None:
    assert property_matches("$.Flag", {"Flag": True}, ["True"]) == (True, "")
    assert property_matches("$.N", {"N": 7}, ["7"])[0]
    ok, message = property_matches("$.Flag", {"Flag": False}, ["True"])
    assert not ok
    assert message == (
        "Property value 'False' from the API output is not in the desired values. Desired values: ['True']."
    )
    ok, message = property_matches("$.Missing", {}, ["x"])
    assert not ok
    assert "not found" in message
    assert property_matches("$.S[*]", {"S": ["a", "a"]}, ["a"])[0]
    assert not property_matches("$.S[*]", {"S": ["a", "b"]}, ["a"])[0]
