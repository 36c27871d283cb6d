"""Field model of the ConnectWise schemas the sandbox serves, read from the OpenAPI subset.

The one source is ``openapi-billing-subset.json`` next to this module (ConnectWise Manage API
2026.4, agreement-billing subset; a copy of ``shared/connectwise/openapi-billing-subset.json``).
For each component schema :data:`SCHEMAS` holds its POST-required fields and, per property:
``kind`` (string/integer/number/boolean/datetime/ref/array/object/any), ``ref`` (the referenced
schema, also for arrays of references), ``items`` (element type of plain arrays), ``enum``,
``maxLength`` and ``requiredOnUpdates`` (both parsed from the spec's descriptions) and ``nullable``.
The contract tests validate every sandbox response against the same file.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

SPEC_FILE = "openapi-billing-subset.json"
_MAX_LENGTH = re.compile(r"Max length: (\d+);")
_PLAIN_KINDS = ("string", "integer", "number", "boolean", "array", "object")


def load_spec() -> dict[str, Any]:
    """The OpenAPI document the sandbox implements."""
    return json.loads(resources.files(__package__).joinpath(SPEC_FILE).read_text(encoding="utf-8"))


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


def _field(prop: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in prop:
        out: dict[str, Any] = {"kind": "ref", "ref": _ref_name(prop["$ref"])}
    else:
        t = prop.get("type")
        kind = "datetime" if t == "string" and prop.get("format") == "date-time" else t if t in _PLAIN_KINDS else "any"
        out = {"kind": kind}
        if t == "array":
            items = prop.get("items", {})
            if "$ref" in items:
                out["ref"] = _ref_name(items["$ref"])
            elif "type" in items:
                out["items"] = items["type"]
    if "enum" in prop:
        out["enum"] = tuple(prop["enum"])
    description = prop.get("description") or ""
    if m := _MAX_LENGTH.search(description):
        out["maxLength"] = int(m.group(1))
    if "Required On Updates" in description:
        out["requiredOnUpdates"] = True
    if prop.get("nullable"):
        out["nullable"] = True
    return out


def build_schemas(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{schema name: {"required": (...), "properties": {name: field}}}`` for every component schema."""
    return {
        name: {
            "required": tuple(schema.get("required", ())),
            "properties": {p: _field(v) for p, v in (schema.get("properties") or {}).items()},
        }
        for name, schema in spec["components"]["schemas"].items()
    }


SCHEMAS: dict[str, dict[str, Any]] = build_schemas(load_spec())
