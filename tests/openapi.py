"""Validate JSON against a schema of Intercom's OpenAPI description (Canvas Kit: version 2.11).

With `corrected=True` (the default) two defects of the 2.11 Canvas Kit schemas are fixed first,
both contradicted by Intercom's own Canvas Kit reference pages and response examples:

- `list_component` items are `oneOf` "with image" and "without image", but the second does not
  forbid `image`, so every list item with an image matches both and fails `oneOf`. The
  correction makes "without image" require that `image` is absent.
- `canvas_object` requires `content`, but a live canvas sends `content_url` instead. The
  correction requires `content` or `content_url`.

`corrected=False` validates against the file exactly as published.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import copy

import yaml
from openapi_schema_validator import OAS30Validator

from tests.conftest import OPENAPI_DIR

__all__ = ["schema_errors", "validate"]


@lru_cache(maxsize=4)
def _components(version: str, corrected: bool) -> dict[str, Any]:
    with open(OPENAPI_DIR / f"api-{version}.yaml", encoding="utf-8") as handle:
        components = yaml.safe_load(handle)["components"]
    if corrected:
        _correct(components["schemas"])
    return components


def _correct(schemas: dict[str, Any]) -> None:
    without_image = copy.deepcopy(schemas["list_item_without_image"])
    without_image["allOf"].append({"not": {"required": ["image"]}})
    schemas["list_item_without_image"] = without_image

    canvas = copy.deepcopy(schemas["canvas_object"])
    canvas.pop("required", None)
    canvas["anyOf"] = [{"required": ["content"]}, {"required": ["content_url"]}]
    schemas["canvas_object"] = canvas


@lru_cache(maxsize=64)
def _validator(name: str, version: str, corrected: bool) -> OAS30Validator:
    components = _components(version, corrected)
    if name not in components["schemas"]:
        raise KeyError(f"schema {name!r} is not in api-{version}.yaml")
    # The root carries `components`, so the spec's `#/components/schemas/...` references resolve.
    return OAS30Validator({"$ref": f"#/components/schemas/{name}", "components": components})


def schema_errors(instance: Any, name: str, version: str = "2.11", *, corrected: bool = True) -> list[str]:
    """Return every violation of schema `name` by `instance`, each with its JSON path."""
    validator = _validator(name, version, corrected)
    errors = sorted(validator.iter_errors(instance), key=lambda error: [str(part) for part in error.absolute_path])
    return [f"{error.json_path}: {error.message}" for error in errors]


def validate(instance: Any, name: str, version: str = "2.11", *, corrected: bool = True) -> None:
    """Raise AssertionError listing the violations when `instance` does not match schema `name`."""
    problems = schema_errors(instance, name, version, corrected=corrected)
    if problems:
        raise AssertionError(f"invalid {name} ({len(problems)} problems):\n" + "\n".join(problems))

