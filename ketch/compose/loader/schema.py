"""The Compose specification's JSON schema (``data/compose-spec.json``, draft 07) checked on a
compose file after interpolation, with compose-go's choice and wording of the error.

Of all the violations the most specific one is reported (the deepest key; an unknown key
counts one deeper), worded as compose-go's validator words it, with the file and the line:

    validating /p/compose.yaml: services.web additional properties 'foo' not allowed (line 7)
    validating /p/compose.yaml: services.web.environment.0 must be a string (line 9)

A conforming document is recognised by ``conformance`` (the schema's few keywords, checked
directly); jsonschema (~40-80 ms to import) is imported, once, only for a document that does
not conform, to find and word its error.
"""

import json
import os

from ketch.compose.errors import LoadError
from ketch.compose.loader.conformance import Checker

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "data", "compose-spec.json")
_cache: dict[str, object] = {}


def _schema() -> dict:
    if "schema" not in _cache:
        with open(SCHEMA_PATH, encoding="utf-8") as f:
            _cache["schema"] = json.load(f)
    return _cache["schema"]


def _checker():
    if "checker" not in _cache:
        _cache["checker"] = Checker(_schema())
    return _cache["checker"]


def _get_validator():
    if "validator" not in _cache:
        import jsonschema  # deferred: only a file that does not conform needs it
        _cache["validator"] = jsonschema.Draft7Validator(_schema())
    return _cache["validator"]


def validate(doc, file: str, yamldoc=None) -> None:
    """LoadError naming the file, the key path and (with ``yamldoc``) the line, on the most
    specific violation; nothing when ``doc`` conforms."""
    if _checker().conforms(doc):
        return
    validator = _get_validator()
    errors = list(validator.iter_errors(doc))
    if not errors:
        return
    error = _most_specific(errors)
    path = list(error.absolute_path)
    text = f"{'.'.join(map(str, path))} {_describe(validator, error)}".strip()
    line = None
    if yamldoc is not None:
        extra = _additional(error)
        line = yamldoc.line(tuple(path) + ((extra[0],) if extra else ()))
    exc = LoadError(f"validating {file}: {text}" + (f" (line {line})" if line else ""))
    exc.file, exc.line, exc.path = file, line, tuple(path)
    raise exc


def warnings(doc, file: str) -> list[str]:
    """What compose warns of in a valid file: the obsolete top-level ``version``."""
    if isinstance(doc, dict) and "version" in doc:
        return [f"{file}: the attribute `version` is obsolete, it will be ignored, "
                "please remove it to avoid potential confusion"]
    return []


def _specificity(error) -> int:
    return len(error.absolute_path) + (1 if error.validator == "additionalProperties" else 0)


def _most_specific(errors):
    """compose-go's getMostSpecificError: depth first through anyOf/oneOf causes, the first
    of the deepest."""
    best = None
    for error in errors:
        if error.context:
            error = _most_specific(error.context)
        if best is None or _specificity(error) > _specificity(best):
            best = error
    return best


def _quote(text) -> str:
    return "'" + str(text).replace("'", "\\'") + "'"


def _display(value) -> str:
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "<nil>"
    if isinstance(value, (list, dict)):
        return "value"
    return str(value)


def _type_name(types) -> str:
    if isinstance(types, str):
        return "mapping" if types == "object" else types
    names = sorted(_type_name(t) for t in types)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _additional(error) -> list[str]:
    """The keys an additionalProperties error is about, in the document's order."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    known = error.schema.get("properties", {})
    patterns = error.schema.get("patternProperties", {})
    import re
    return [key for key in error.instance
            if key not in known and not any(re.search(p, key) for p in patterns)]


def _describe(validator, error) -> str:
    """santhosh-tekuri/jsonschema's texts, as compose-go (v2.2+) shows them."""
    kind, want, got = error.validator, error.validator_value, error.instance
    if kind == "type":
        return f"must be a {_type_name(want)}"
    if kind == "minimum":
        return f"must be greater than or equal to {want}"
    if kind == "maximum":
        return f"must be less than or equal to {want}"
    if kind == "additionalProperties":
        return f"additional properties {', '.join(map(_quote, _additional(error)))} not allowed"
    if kind == "required":
        missing = [name for name in want if isinstance(got, dict) and name not in got]
        if len(missing) == 1:
            return f"missing property {_quote(missing[0])}"
        return f"missing properties {', '.join(map(_quote, missing))}"
    if kind in ("enum", "const"):
        values = want if kind == "enum" else [want]
        if any(isinstance(v, (list, dict)) for v in values):
            return f"{kind} failed"
        if len(values) == 1:
            return f"value must be {_display(values[0])}"
        return f"value must be one of {', '.join(map(_display, values))}"
    if kind == "pattern":
        return f"{_quote(got)} does not match pattern {_quote(want)}"
    if kind == "oneOf":
        matched = [i for i, sub in enumerate(want) if validator.evolve(schema=sub).is_valid(got)]
        if len(matched) >= 2:
            return f"oneOf failed, subschemas {matched[0]}, {matched[1]} matched"
        return "oneOf failed, none matched"
    if kind in ("anyOf", "allOf", "not"):
        return f"{kind} failed"
    if kind == "uniqueItems":
        for i, a in enumerate(got):
            for j in range(i + 1, len(got)):
                if a == got[j]:
                    return f"items at {i} and {j} are equal"
    if kind in ("minItems", "maxItems", "minProperties", "maxProperties", "minLength", "maxLength"):
        return f"{kind}: got {len(got)}, want {want}"
    if kind == "dependencies":
        return error.message
    if kind is None or error.validator_value is False:
        return "false schema"
    return error.message
