#!/usr/bin/env python3
"""Writes kubeconform's JSON schemas from Kubernetes' OpenAPI document.

Usage: k8s-schemas.py SWAGGER_JSON OUT_DIR

SWAGGER_JSON is api/openapi-spec/swagger.json of the k8s.io/kubernetes
module at the version the manifests target. OUT_DIR receives
_definitions.json (every definition, strict) and one file per kind named
as kubeconform looks them up ({kind}-{group}-{version}.json, the group's
first label; {kind}-{version}.json for the core group), each a reference
into _definitions.json. The rewriting is the one of the schemas
kubeconform publishes ("standalone-strict", less the inlining):

  - objects with properties allow no other properties, unless Kubernetes
    marks them as preserving unknown fields;
  - int-or-string and quantities accept a string or a number, as the API
    server does.
"""
import json
import os
import sys


def strict(node):
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items()}
    fmt = out.get("format")
    if fmt == "int-or-string":
        out = {k: v for k, v in out.items() if k not in ("type", "format")}
        out["oneOf"] = [{"type": "string"}, {"type": "integer"}]
    if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


def main(swagger, outdir):
    with open(swagger) as f:
        spec = json.load(f)
    defs = spec["definitions"]
    # A Quantity is a string in the document but numbers are accepted.
    for name, d in defs.items():
        if name.endswith("api.resource.Quantity"):
            defs[name] = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "_definitions.json"), "w") as f:
        json.dump({"definitions": {n: strict(d) for n, d in defs.items()}}, f)
    written = 0
    for name, d in defs.items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            group = gvk["group"].split(".")[0]
            kind = gvk["kind"].lower()
            fname = f"{kind}-{group}-{gvk['version']}.json" if group else f"{kind}-{gvk['version']}.json"
            with open(os.path.join(outdir, fname), "w") as f:
                json.dump({"$ref": f"_definitions.json#/definitions/{name}"}, f)
            written += 1
    print(f"{written} kinds written to {outdir}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
