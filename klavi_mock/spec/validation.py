"""Check a request against its operation before any handler sees it.

Every problem is reported as `<where>.<field>: <what is wrong>` (where is path, query,
header or body), so a client developer can fix the request from the message alone.
"""

from __future__ import annotations

import ast
import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match

from klavi_mock.domain.formats import FORMAT_HINTS, check_digits_problem, phone_problem, redirect_url_problem
from klavi_mock.errors import InvalidRequest, UnsupportedMediaType
from klavi_mock.spec.operations import Operation, Parameter

MAX_REPORTED_PROBLEMS = 5
# Arrays and objects nested deeper than this are refused (no Klavi body needs more than a
# handful of levels; without a limit a body of "[[[[..." would exhaust the parser's stack).
MAX_JSON_DEPTH = 64


@dataclass(frozen=True)
class ValidRequest:
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any
    tolerated: tuple[str, ...] = ()  # deviations from the spec that were accepted anyway


def apply_aliases(body: Any, aliases: Mapping[str, str]) -> list[str]:
    """Rename fields sent under another spelling (productsCallbackUrl for
    productsCallbackURL); return a note for each."""
    notes: list[str] = []
    if not isinstance(body, dict):
        return notes
    for alias, name in aliases.items():
        if alias in body:
            if name in body:
                body.pop(alias)
                notes.append(f"body.{alias}: ignored, since body.{name} was sent too")
            else:
                body[name] = body.pop(alias)
                notes.append(f"body.{alias}: accepted as body.{name} (the spec's spelling)")
    return notes


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _field(prefix: str, path: Iterable[Any]) -> str:
    text = prefix
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _shorten(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(error: ValidationError, prefix: str) -> str:
    """One validation error as `field: problem`."""
    if "x-error-message" in error.schema and error.validator in ("oneOf", "anyOf", "not"):
        return f"{_field(prefix, error.absolute_path)}: {error.schema['x-error-message']}"
    if error.validator in ("oneOf", "anyOf") and error.context:
        error = best_match(error.context)
    where = _field(prefix, error.absolute_path)
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "required":
        # jsonschema reports each missing property as its own error, named only in the message.
        missing = ast.literal_eval(error.message.removesuffix(" is a required property"))
        return f"{_field(prefix, [*error.absolute_path, missing])}: is required"
    if kind == "dependentRequired":
        present = next(k for k in expected if isinstance(value, dict) and k in value)
        missing = next(name for name in expected[present] if name not in value)
        return f"{_field(prefix, [*error.absolute_path, missing])}: is required when {present} is present"
    if kind == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{where}: must be {'an' if wanted[0] in 'aeiou' else 'a'} {wanted}, not {_json_type(value)} {_shorten(value)}"
    if kind == "enum":
        return f"{where}: must be one of {', '.join(_shorten(v) for v in expected)}; got {_shorten(value)}"
    if kind == "const":
        return f"{where}: must be {_shorten(expected)}; got {_shorten(value)}"
    if kind == "format" and expected == "redirect-uri":
        return f"{where}: {redirect_url_problem(value) or 'is not a redirect URL'}"
    if kind == "format" and expected == "phone-br":
        return f"{where}: {phone_problem(value) or 'Invalid phone'}"
    if kind == "format":
        return f"{where}: {_shorten(value)} is not {FORMAT_HINTS.get(expected, 'a valid ' + expected)}"
    if kind == "maxLength":
        return f"{where}: must be at most {expected} characters (got {len(value)})"
    if kind == "minLength":
        return f"{where}: must not be empty" if expected == 1 else f"{where}: must be at least {expected} characters"
    if kind == "maxItems":
        return f"{where}: must have at most {expected} items (got {len(value)})"
    if kind == "minItems":
        return f"{where}: must have at least {expected} item{'s' if expected != 1 else ''}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{where}: {error.message}"
    if kind == "additionalProperties":
        return f"{where}: {error.message}"
    return f"{where}: {error.message}"


def problems(validator: Draft202012Validator, instance: Any, prefix: str) -> list[str]:
    errors = sorted(validator.iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    # A CPF of the wrong length also fails its format; the format's message says it all.
    with_format = {tuple(e.absolute_path) for e in errors if e.validator == "format"}
    errors = [
        e for e in errors if not (e.validator in ("minLength", "maxLength") and tuple(e.absolute_path) in with_format)
    ]
    return [describe(e, prefix) for e in errors]


def _raise(found: list[str]) -> None:
    if found:
        unique = list(dict.fromkeys(found))
        extra = len(unique) - MAX_REPORTED_PROBLEMS
        message = "; ".join(unique[:MAX_REPORTED_PROBLEMS])
        raise InvalidRequest(message + (f"; and {extra} more" if extra > 0 else ""), problems=unique)


def _coerce(raw: str, schema: Mapping[str, Any]) -> Any:
    """Query, path and header values arrive as text; read them as the schema's type."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        return raw  # left as text: the validator reports the type
    if kind == "boolean" and raw in ("true", "false"):
        return raw == "true"
    return raw


def _check_parameter(parameter: Parameter, raw: str | None, found: list[str]) -> Any:
    where = f"{parameter.location}.{parameter.name}"
    if raw is None:
        if parameter.required:
            found.append(f"{where}: is required")
        return None
    value = _coerce(raw, parameter.schema)
    found.extend(problems(parameter.validator, value, where))
    return value


def parse_json_body(raw: bytes, content_type: str | None) -> Any:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"the body must be JSON: send Content-Type: application/json (got {media_type})")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidRequest("body: is not UTF-8 encoded JSON") from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"body: is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise InvalidRequest(f"body: nests arrays and objects deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        if "digits" not in str(exc):
            raise InvalidRequest("body: is not valid JSON") from None
        raise InvalidRequest(f"body: has an integer of more than {sys.get_int_max_str_digits()} digits") from None
    _check_json_values(body)
    return body


def _check_json_values(body: Any) -> None:
    """Refuse what Python's parser lets through but JSON (RFC 8259) has no room for, and
    what could not be answered back: NaN and Infinity, numbers beyond a double, strings
    with lone UTF-16 surrogates ("\\ud800"), and nesting deeper than MAX_JSON_DEPTH.
    Iterative, so a deep body cannot exhaust the stack here either."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(body, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if not _encodable(value):
                raise InvalidRequest(
                    f"{_field('body', path)}: contains a lone UTF-16 surrogate (e.g. \\ud800), which is not a Unicode character"
                )
        elif isinstance(value, float):
            if not math.isfinite(value):
                got = "NaN" if math.isnan(value) else "Infinity, or a number beyond ±1.8e308"
                raise InvalidRequest(f"{_field('body', path)}: must be a finite JSON number (got {got})")
        elif isinstance(value, (dict, list)):
            if len(path) >= MAX_JSON_DEPTH:
                raise InvalidRequest(
                    f"body: nests arrays and objects deeper than {MAX_JSON_DEPTH} levels (from {_field('body', path[:3])}...)"
                )
            if isinstance(value, dict):
                for key, item in value.items():
                    if not _encodable(key):
                        raise InvalidRequest(
                            f"{_field('body', path)}: a field name contains a lone UTF-16 surrogate (e.g. \\ud800), which is not a Unicode character"
                        )
                    stack.append((item, (*path, key)))
            else:
                stack.extend((item, (*path, index)) for index, item in enumerate(value))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_request(
    operation: Operation,
    path_params: Mapping[str, str],
    query: Mapping[str, str],
    headers: Mapping[str, str],
    raw_body: bytes,
    refuse_bad_check_digits: bool = False,
) -> ValidRequest:
    """Raise InvalidRequest naming every problem, or return the typed values. A CPF or
    CNPJ with wrong check digits is a tolerated deviation, or a problem when
    `refuse_bad_check_digits` (the strictTaxIds setting)."""
    if not operation.parameters and operation.body_validator is None and not query:
        return ValidRequest(path={}, query={}, body=None, tolerated=())  # nothing to check (GET /links/institutions)
    found: list[str] = []
    path_values: dict[str, Any] = {}
    query_values: dict[str, Any] = {}
    declared_query = {p.name for p in operation.parameters if p.location == "query"}
    unknown_query = [f"query.{name}: not in the spec (ignored)" for name in query if name not in declared_query]
    for parameter in operation.parameters:
        if parameter.location == "path":
            path_values[parameter.name] = _check_parameter(parameter, path_params.get(parameter.name), found)
        elif parameter.location == "query":
            value = _check_parameter(parameter, query.get(parameter.name), found)
            if value is not None:
                query_values[parameter.name] = value
        else:
            _check_parameter(parameter, headers.get(parameter.name.lower()), found)

    body: Any = None
    tolerated: list[str] = []
    if operation.body_validator is not None:
        if raw_body.strip():
            body = parse_json_body(raw_body, headers.get("content-type"))
            tolerated = apply_aliases(body, operation.body_aliases)
            found.extend(problems(operation.body_validator, body, "body"))
            if isinstance(body, dict) and operation.body_fields:
                tolerated += [
                    f"body.{name}: not in the spec (ignored)" for name in body if name not in operation.body_fields
                ]
        elif operation.body_required:
            found.append("body: is required (a JSON object)")
    _raise(found)
    digits = _check_digit_notes(operation, path_values, query_values, body)
    if refuse_bad_check_digits:
        _raise([f"{note} (klavi-mock is set to refuse them: strictTaxIds)" for note in digits])
    return ValidRequest(
        path=path_values, query=query_values, body=body, tolerated=tuple(unknown_query + tolerated + digits)
    )


def _check_digit_notes(operation: Operation, path: Mapping[str, Any], query: Mapping[str, Any], body: Any) -> list[str]:
    values = {"path": path, "query": query, "body": body if isinstance(body, dict) else {}}
    notes = []
    for location, name, kind in operation.tax_id_fields:
        problem = check_digits_problem(kind, values.get(location, {}).get(name))
        if problem:
            notes.append(f"{location}.{name}: {problem}")
    return notes
