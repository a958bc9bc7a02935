#!/usr/bin/env python3
"""Validates vpp's OpenAPI document with openapi-spec-validator (PyPI).

    scripts/check-openapi.py URL-or-FILE

Prints every error (path in the document and message) and exits 1 if there
is any. `.ci/run` calls it on the document a running server serves.
"""
import json
import sys
import urllib.request

from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator


def load(source):
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as r:
            return json.load(r)
    with open(source, encoding="utf-8") as f:
        return json.load(f)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    doc = load(sys.argv[1])
    version = doc.get("openapi", "")
    validator = (OpenAPIV31SpecValidator if version.startswith("3.1") else OpenAPIV30SpecValidator)(doc)
    try:
        errors = list(validator.iter_errors())
    except Exception as e:  # an unresolvable $ref stops the validator itself
        errors = [e]
    for e in errors:
        where = "/".join(str(p) for p in getattr(e, "absolute_path", []))
        print(f"openapi: {where or '(document)'}: {str(getattr(e, 'message', e))[:300]}")
    operations = sum(1 for item in doc.get("paths", {}).values() for k in item if k in
                     ("get", "put", "post", "delete", "patch", "head", "options", "trace"))
    print(f"openapi {version}: {operations} operations, {len(errors)} validator errors")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
